"""SCENARIOS 21-24: lost responses, rate limits, server errors and the budget cap never cause a duplicate
or a lost change; re-running converges to the same Autotask state."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from psabridge.autotask import AutotaskClient, AutotaskCredentials
from psabridge.autotask.limits import TENANT_USAGE
from psabridge.sync import service
from psabridge.sync.models import JournalEntry
from tests.sync.support import Hub, SyncEnv, build_fixture, signature

#: Queries are POSTs too (``…/query``): this path pattern makes a fault hit creates only.
NOT_QUERY = r"[^y]$"

WRITE_ENTITIES = [
    "Products",
    "Services",
    "Companies",
    "Contacts",
    "Contracts",
    "ContractServices",
    "ContractServiceAdjustments",
    "ContractCharges",
]


@pytest.mark.parametrize("entity", WRITE_ENTITIES)
def test_response_lost_after_commit_is_reconciled_not_repeated(env: SyncEnv, hub: Hub, entity: str) -> None:
    """SCENARIO 21: Autotask accepted the write but the answer was lost; the next run finds it."""
    fx = build_fixture(hub)
    env.emu.control.add_fault(
        action="drop_after_commit", method="POST", entity=f"^{entity}$", path=NOT_QUERY, count=1
    )
    first = env.sync()
    assert first.status == "partial"
    with env.factory() as s:
        unknown = s.scalars(select(JournalEntry).where(JournalEntry.outcome == "unknown")).all()
        assert len(unknown) == 1 and unknown[0].entity == entity
    second = env.sync()
    assert second.status == "succeeded", second.error
    assert signature(env) == fx.expected(env.org_id)
    with env.factory() as s:
        assert s.get(JournalEntry, unknown[0].id).outcome == "recovered"  # type: ignore[union-attr]
    assert env.plan().plan.operations == []


@pytest.mark.parametrize("action", ["429", "thread_limit"])
def test_rate_limits_wait_and_retry(env: SyncEnv, hub: Hub, action: str) -> None:
    """SCENARIO 22."""
    fx = build_fixture(hub)
    env.emu.control.add_fault(
        action=action, method="POST", entity="^(Companies|Contracts|ContractServices)$", count=3
    )
    run = env.sync()
    assert run.status == "succeeded", run.error
    assert signature(env) == fx.expected(env.org_id)


def test_server_error_shows_on_the_row_and_retry_failed_only(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 23: a 500 on one contract; everything else goes on; a retry writes only what failed."""
    fx = build_fixture(hub)
    env.emu.control.add_fault(action="500", method="POST", entity="^Contracts$", path=NOT_QUERY, count=1)
    run = env.sync()
    assert run.status == "partial"
    with env.factory() as s:
        _, results = service.get_run(s, env.org_id, run.id)
    failed = [r for r in results if r.status == "error"]
    assert len(failed) == 1 and failed[0].record_type == "billing_contract"
    assert "injected fault" in (failed[0].reason or "")
    assert env.statuses()[("billing_contract", failed[0].hub_id)]["status"] == "error"
    other = fx.ids["contract2"] if failed[0].hub_id == fx.ids["contract"] else fx.ids["contract"]
    assert env.statuses()[("billing_contract", other)]["status"] == "synced"
    # what depends on the failed contract waits for it
    waiting = [r for r in results if r.status == "waiting"]
    assert waiting and all("Waiting for" in (r.reason or "") for r in waiting)

    retry_plan = env.plan(retry_failed=True).plan
    assert [(op.record_type, op.hub_id) for op in retry_plan.operations] == [
        ("billing_contract", failed[0].hub_id)
    ]
    env.emu.control.clear_calls()
    retry = env.sync(retry_failed=True)
    assert retry.status == "succeeded"
    calls = env.emu.control.calls()["calls"]
    assert calls.get("Contracts", {}).get("query", 0) >= 1  # checked by key before retrying
    assert calls.get("Contracts", {}).get("create", 0) == 1
    final = env.sync()
    assert final.status == "succeeded"
    assert signature(env) == fx.expected(env.org_id)


def test_budget_cap_pauses_then_resumes(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 24: at the configured cap the run pauses (resumable) instead of exhausting the tenant."""
    fx = build_fixture(hub)
    TENANT_USAGE.clear()
    env.emu.control.clear_calls()
    capped = AutotaskClient(
        AutotaskCredentials(*env.emu.credentials), zone_url=env.emu.zone_url, hourly_budget_cap=12
    )
    try:
        run = service.run_sync(env.factory, env.org_id, app_settings=env.app_settings, client=capped)
    finally:
        capped.close()
    assert run.status == "paused"
    assert "budget" in (run.error or "")
    calls = env.emu.control.calls()["calls"]
    assert sum(n for e, v in calls.items() if e.lower() != "zoneinformation" for n in v.values()) <= 12
    TENANT_USAGE.clear()  # an hour later
    resumed = env.sync()
    assert resumed.status == "succeeded", resumed.error
    assert signature(env) == fx.expected(env.org_id)


def test_configured_budget_cap_reaches_every_sync(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 24 through configuration: PSABRIDGE_AUTOTASK_HOURLY_BUDGET_CAP caps the connector's client,
    so a sync started from the CLI or the web pauses at the cap instead of exhausting the tenant."""
    fx = build_fixture(hub)
    TENANT_USAGE.clear()
    env.emu.control.clear_calls()
    env.app_settings = env.app_settings.model_copy(update={"autotask_hourly_budget_cap": 12})
    run = env.sync()
    assert run.status == "paused"
    calls = env.emu.control.calls()["calls"]
    assert sum(n for e, v in calls.items() if e.lower() != "zoneinformation" for n in v.values()) <= 12
    TENANT_USAGE.clear()  # an hour later
    env.app_settings = env.app_settings.model_copy(update={"autotask_hourly_budget_cap": None})
    resumed = env.sync()
    assert resumed.status == "succeeded", resumed.error
    assert signature(env) == fx.expected(env.org_id)
