"""Exactly-once gaps closed after the first version of the engine: repeat contract services, price-only
adjustments, a multi-call write interrupted half-way, and pacing near the tenant's hourly threshold
(SCENARIOS 21, 23, 24). End to end against the emulator over HTTP."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from psabridge.autotask import AutotaskClient, AutotaskCredentials
from psabridge.autotask.limits import TENANT_USAGE
from psabridge.sync import service
from psabridge.sync.models import JournalEntry, SyncLink
from psabridge.sync.reader import units_at
from tests.sync.support import Hub, SyncEnv, build_fixture, signature

NOT_QUERY = r"[^y]$"


def _services_of(env: SyncEnv, contract_key: str) -> list[dict[str, Any]]:
    contract = next(c for c in env.records("Contracts") if c.get("contractNumber") == contract_key)
    return [s for s in env.records("ContractServices") if s["contractID"] == contract["id"]]


def _repeat_setup(env: SyncEnv, hub: Hub) -> tuple[Any, Any, Any]:
    """A synced contract with one subscription; then a second subscription of the same product."""
    env.set_settings(allow_duplicated_services=True)
    acc = hub.account("Coho Winery")
    contract = hub.contract(acc)
    product = hub.product()
    first = hub.subscription(contract, product, quantity=5)
    assert env.sync().status == "succeeded"
    second = hub.subscription(contract, product, quantity=3, start=date(2026, 2, 1))
    return contract, first, second


def _assert_two_services_with_own_seats(env: SyncEnv, contract: Any, first: Any, second: Any) -> None:
    """Exactly two contract services of the product on the contract (no duplicate): the first carries
    its key (written on create), the repeat is linked by its id (Autotask does not update a contract
    service's internalDescription); each has its own seats in ContractServiceUnits."""
    p = f"PSB{env.org_id}-"
    services = _services_of(env, f"{p}K{contract.id}")
    assert len(services) == 2, services
    keyed = [s for s in services if s.get("internalDescription") == f"{p}U{first.id}"]
    assert len(keyed) == 1
    repeat = next(s for s in services if s is not keyed[0])
    assert not repeat.get("internalDescription")
    with env.factory() as session:
        link = session.scalars(
            select(SyncLink).where(SyncLink.record_type == "subscription", SyncLink.hub_id == second.id)
        ).one()
    assert (link.autotask_id, link.status) == (repeat["id"], "synced")
    units = env.records("ContractServiceUnits")
    assert units_at([r for r in units if r["contractServiceID"] == keyed[0]["id"]], "2026-02-10") == 5
    assert units_at([r for r in units if r["contractServiceID"] == repeat["id"]], "2026-02-10") == 3
    assert env.plan().plan.operations == []


@pytest.mark.parametrize(
    "fault",
    [
        # the adjustment that adds the repeat service was committed, its answer lost
        {"action": "drop_after_commit", "method": "POST", "entity": "^ContractServiceAdjustments$"},
        # added, then the lookup of the new contract service failed (500s until the client gave up)
        {"action": "500", "method": "POST", "entity": "^ContractServices$", "path": "query$", "skip": 1},
    ],
    ids=["adjustment-response-lost", "lookup-failed"],
)
def test_repeat_service_interrupted_is_found_not_added_again(
    env: SyncEnv, hub: Hub, fault: dict[str, Any]
) -> None:
    """Allow Duplicated Services = Yes: a lost answer between adding the repeat service (adjustment with
    allowRepeatService) and identifying it is reconciled by finding the unlinked service, never re-added."""
    contract, first, second = _repeat_setup(env, hub)
    env.emu.control.add_fault(count=None if fault["action"] == "500" else 1, **fault)
    assert env.sync().status == "partial"
    env.emu.control.clear_faults()
    again = env.sync()
    assert again.status == "succeeded", again.error
    _assert_two_services_with_own_seats(env, contract, first, second)


def test_repeat_service_process_killed_before_it_was_identified(env: SyncEnv, hub: Hub) -> None:
    """The process died after the adjustment, before the lookup: the journal entry has no outcome."""
    contract, first, second = _repeat_setup(env, hub)
    env.emu.control.add_fault(
        action="500", method="POST", entity="^ContractServices$", path="query$", skip=1, count=None
    )
    env.sync()
    env.emu.control.clear_faults()
    with env.factory() as s:  # what a SIGKILL between the two calls leaves behind: intent, no outcome
        killed = s.execute(
            update(JournalEntry)
            .where(JournalEntry.entity == "ContractServices", JournalEntry.outcome.in_(["failed", "unknown"]))
            .values(outcome=None, error=None, finished_at=None)
        )
        assert killed.rowcount == 1  # type: ignore[attr-defined]
        s.commit()
    assert env.sync().status == "succeeded"
    _assert_two_services_with_own_seats(env, contract, first, second)


def test_repeat_service_budget_runs_out_after_the_adjustment(env: SyncEnv, hub: Hub) -> None:
    """The repeat write is two calls; when the lookup after the adjustment is refused (429 until the
    client gives up) the write is not "not sent": the next run finds the added service."""
    contract, first, second = _repeat_setup(env, hub)
    # the plan's read of ContractServices by key passes; the lookup after the adjustment is refused
    env.emu.control.add_fault(
        action="429", method="POST", entity="^ContractServices$", path=r"query$", skip=1, count=None
    )
    impatient = AutotaskClient(
        AutotaskCredentials(*env.emu.credentials), zone_url=env.emu.zone_url, sleep=lambda _s: None
    )
    try:
        run = service.run_sync(env.factory, env.org_id, app_settings=env.app_settings, client=impatient)
    finally:
        impatient.close()
    assert run.status == "partial"
    env.emu.control.clear_faults()
    assert env.sync().status == "succeeded"
    _assert_two_services_with_own_seats(env, contract, first, second)


def _price_setup(env: SyncEnv, hub: Hub) -> tuple[Any, dict[str, Any]]:
    acc = hub.account("Wide World Importers")
    contract = hub.contract(acc, start=date(2026, 1, 1))
    sub = hub.subscription(contract, hub.product(), quantity=10, unit_price=Decimal("22.00"))
    assert env.sync().status == "succeeded"
    cs = next(
        s
        for s in env.records("ContractServices")
        if s.get("internalDescription") == f"PSB{env.org_id}-U{sub.id}"
    )
    hub.change(sub, date(2026, 3, 1), 10, unit_price=Decimal("25.00"))  # price only, no unit change
    return sub, cs


def _price_on(env: SyncEnv, cs_id: int, day: str) -> float | None:
    rows = [r for r in env.records("ContractServiceUnits") if r["contractServiceID"] == cs_id]
    best = max((r for r in rows if str(r["startDate"])[:10] <= day), key=lambda r: str(r["startDate"]))
    return float(best["price"]) if best.get("price") is not None else None


@pytest.mark.parametrize("action", ["drop_after_commit", "500"])
def test_price_only_adjustment_is_verified_through_the_price(env: SyncEnv, hub: Hub, action: str) -> None:
    """A price change without a unit change cannot be verified through units: a lost answer must not
    duplicate it, and a refused one must not be taken for done (the new price would be lost)."""
    _sub, cs = _price_setup(env, hub)
    env.emu.control.add_fault(
        action=action, method="POST", entity="^ContractServiceAdjustments$", path=NOT_QUERY, count=1
    )
    assert env.sync().status == "partial"
    assert env.sync().status == "succeeded"
    adjustments = [a for a in env.adjustments() if a["contractServiceID"] == cs["id"]]
    # the initial seats, then exactly one price change
    assert [(a["unitChange"], a["adjustedUnitPrice"]) for a in adjustments] == [(10, None), (0, 25.0)]
    assert _price_on(env, cs["id"], "2026-03-05") == 25.0
    assert _price_on(env, cs["id"], "2026-02-05") == 22.0
    assert env.plan().plan.operations == []


class PacingRecorder:
    """The client's sleep: records each pause instead of waiting (no wall-clock timing in tests)."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


def test_run_slows_past_half_and_three_quarters_then_pauses_at_the_cap(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 24: the tenant's ThresholdInformation usage is past 50% (other integrations used it):
    the client paces every call, more past 75%, pauses the run at our cap; an hour later the next run
    completes with no duplicates."""
    fx = build_fixture(hub)
    control = env.emu.control
    # a small hourly threshold so usage is reached in a few calls; no server-side delays (wall clock)
    control.set_limits(hourly_limit=100, delay_over_50=0, delay_over_75=0, reset_counter=True)
    api = f"{env.emu.base_url}/ATServicesRest/V1.0/ThresholdInformation"
    creds = env.emu.credentials
    headers = {
        "UserName": creds.username,
        "Secret": creds.secret,
        "ApiIntegrationCode": creds.integration_code,
    }
    with httpx.Client() as raw:  # other work on the tenant (not this client) used 60 of the 100 calls
        for _ in range(60):
            assert raw.get(api, headers=headers).status_code == 200
    assert control.set_limits()["current"] == 60
    TENANT_USAGE.clear()
    pacing = PacingRecorder()
    capped = AutotaskClient(
        AutotaskCredentials(*env.emu.credentials),
        zone_url=env.emu.zone_url,
        hourly_budget_cap=25,
        sleep=pacing,
    )
    try:
        run = service.run_sync(env.factory, env.org_id, app_settings=env.app_settings, client=capped)
        usage = capped.budget_usage()
        own = capped.stats.total
    finally:
        capped.close()
    assert run.status == "paused", run.error
    assert "budget" in (run.error or "")
    # paced: the short pause while usage was between 50% and 75%, the long one past 75%
    short, long_ = pacing.pauses.count(0.25), pacing.pauses.count(1.0)
    assert short >= 10 and long_ >= 5, pacing.pauses
    assert pacing.pauses.index(1.0) > pacing.pauses.index(0.25)  # slowed first, then more
    assert own <= 25 and usage["own_calls_last_hour"] == 25
    assert usage["fraction"] >= 0.75
    assert control.set_limits()["current"] <= 60 + 25  # the tenant's budget was not exhausted
    with env.factory() as s:
        assert not s.scalars(select(JournalEntry).where(JournalEntry.outcome == "unknown")).all()

    control.set_limits(hourly_limit=10_000, reset_counter=True)  # an hour later
    TENANT_USAGE.clear()
    resumed = env.sync()
    assert resumed.status == "succeeded", resumed.error
    assert signature(env) == fx.expected(env.org_id)
    assert env.plan().plan.operations == []


def test_dry_run_during_a_sync_leaves_its_in_flight_writes_alone(env: SyncEnv, hub: Hub) -> None:
    """A preview (``psabridge plan``, the PSA Integration tab) while a sync is writing must not reconcile
    the sync's in-flight writes: it would mark a write still under way "absent", and if the sync process
    then died, nothing would check it again and the next run would write it a second time."""
    sub, cs = _price_setup(env, hub)
    hub.change(sub, date(2026, 4, 1), 12)
    env.emu.control.add_fault(
        action="latency", ms=1500, method="POST", entity="^ContractServiceAdjustments$", path=NOT_QUERY
    )
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(env.sync()))
    worker.start()
    try:
        deadline = time.monotonic() + 10
        in_flight: JournalEntry | None = None
        while in_flight is None and time.monotonic() < deadline:
            with env.factory() as s:
                in_flight = s.scalars(
                    select(JournalEntry).where(
                        JournalEntry.entity == "ContractServiceAdjustments", JournalEntry.outcome.is_(None)
                    )
                ).first()
            time.sleep(0.02)
        assert in_flight is not None
        preview = env.plan()
        with env.factory() as s:
            entry = s.get(JournalEntry, in_flight.id)
            assert entry is not None and entry.outcome is None  # still the running sync's to finish
        assert preview.plan.operations  # the preview still shows what is not yet known to be written
    finally:
        worker.join(30)
    assert results and results[0].status == "succeeded", results
    with env.factory() as s:
        assert s.get(JournalEntry, in_flight.id).outcome == "done"  # type: ignore[union-attr]
    assert len([a for a in env.adjustments() if a["contractServiceID"] == cs["id"]]) == 3  # initial + 2
    assert env.plan().plan.operations == []
