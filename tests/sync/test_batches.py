"""Batched planning and applying (very large organizations): the catalog first, then customers a batch
at a time. Batching changes memory, never the outcome: the same operations, the same statuses, a Push
still writes only the previewed plan, and a plan that changes mid-push stops before the changed batch."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from psabridge.hub import models as m
from psabridge.psa_integration.push import PlanChanged, plan_digest, push
from psabridge.sync.planner import Plan
from tests.sync.support import Hub, SyncEnv, build_fixture, count_calls, signature


def _batched(env: SyncEnv, size: int) -> None:
    env.app_settings = env.app_settings.model_copy(update={"sync_batch_subscriptions": size})


def _ops(plan: Plan) -> Counter[str]:
    return Counter(repr(sorted(op.to_dict().items())) for op in plan.operations)


def _statuses(plan: Plan) -> dict[tuple[str, int], Any]:
    return {(r.record_type, r.hub_id): (str(r.status), r.reason) for r in plan.records}


def test_batches_plan_exactly_what_one_plan_does(env: SyncEnv, hub: Hub) -> None:
    build_fixture(hub)
    whole = env.plan()
    _batched(env, 1)
    seen: list[Plan] = []
    batched = env.plan(on_batch=seen.append)
    assert len(seen) == 3  # the catalog, then each of the two customers
    assert {op.phase for op in seen[0].operations} == {"products"}
    assert all(op.phase != "products" for batch in seen[1:] for op in batch.operations)
    assert _ops(batched.plan) == _ops(whole.plan)
    assert _statuses(batched.plan) == _statuses(whole.plan)
    assert batched.totals.operations == len(whole.plan.operations)
    assert batched.run.counts == whole.run.counts
    # without the operations kept (memory bounded by one batch), the totals stay
    lean = env.plan(keep_operations=False)
    assert lean.plan.operations == [] and lean.totals.operations == len(whole.plan.operations)
    assert lean.totals.digests == batched.totals.digests


def test_a_batched_sync_lands_the_same_state_and_reads_back_clean(env: SyncEnv, hub: Hub) -> None:
    fx = build_fixture(hub)
    _batched(env, 1)
    run = env.sync()
    assert run.status == "succeeded", run.error
    assert signature(env) == fx.expected(env.org_id)
    # the customers' contract services used the catalog batch's services (no service created twice)
    assert run.counts["products"].get("ops_create_synced") == 3
    env.emu.control.clear_calls()
    again = env.sync()
    assert again.status == "succeeded" and again.planned_operations == 0
    assert count_calls(env.emu.control.calls(), writes_only=True) == 0


def test_push_of_a_batched_preview_writes_it_and_refuses_a_changed_one(env: SyncEnv, hub: Hub) -> None:
    build_fixture(hub)
    _batched(env, 1)
    preview = env.plan()
    digest = plan_digest(preview.plan)
    # a change in the last batch after the preview: nothing at all is written, not even the catalog
    with env.factory() as s:
        account = s.query(m.Account).filter_by(organization_id=env.org_id, name="Humongous Insurance").one()
        account.name = "Humongous Insurance Group"
        s.commit()
    env.emu.control.clear_calls()
    with pytest.raises(PlanChanged):
        push(
            env.factory,
            env.org_id,
            app_settings=env.app_settings,
            expected_digest=digest,
            client=env.client(),
        )
    assert count_calls(env.emu.control.calls(), writes_only=True) == 0
    # previewed again, the push writes exactly that plan
    preview = env.plan()
    confirmed: list[bool] = []
    run = push(
        env.factory,
        env.org_id,
        app_settings=env.app_settings,
        expected_digest=plan_digest(preview.plan),
        client=env.client(),
        on_confirmed=lambda: confirmed.append(True),
    )
    assert run.status == "succeeded" and confirmed == [True]
    assert count_calls(env.emu.control.calls(), writes_only=True) == preview.plan.write_calls


def test_a_plan_that_changes_mid_push_stops_before_the_changed_batch(env: SyncEnv, hub: Hub) -> None:
    build_fixture(hub)
    _batched(env, 1)
    preview = env.plan()
    applied: list[Plan] = []

    def edit_the_last_customer(batch: Plan) -> None:
        applied.append(batch)
        if len(applied) == 2:  # the first customer's batch is confirmed; someone edits the second
            with env.factory() as s:
                acc = (
                    s.query(m.Account).filter_by(organization_id=env.org_id, name="Humongous Insurance").one()
                )
                acc.name = "Humongous Insurance Group"
                s.commit()

    run = env.sync(expected_digest=plan_digest(preview.plan), on_plan=edit_the_last_customer)
    assert run.status == "partial" and "changed while it was being pushed" in (run.error or "")
    assert len(applied) == 2
    companies = [
        c["companyName"]
        for c in env.records("Companies")
        if str(c.get("companyNumber", "")).startswith(f"PSB{env.org_id}-")
    ]
    assert companies == ["Wingtip Toys"]  # the changed customer was not written with the old plan
