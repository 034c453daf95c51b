"""The sync's read-back drift shows on the Reconcile tab; a record PSA Bridge lost its link to is found by
its key and relinked without an API call; sample data with repeat contract services reconciles clean."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from psabridge.hub import models as m
from psabridge.hub.sample_data import generate
from psabridge.sync.models import SyncLink
from tests.reconcile.support import Person, approve_and_apply, fix_of, found, ours, reconcile
from tests.sync.support import Hub, SyncEnv, build_fixture


def test_drift_of_the_last_push_is_shown_and_cleared_by_the_seats_fix(env: SyncEnv, hub: Hub) -> None:
    fx = build_fixture(hub)
    assert env.sync().status == "succeeded"
    i = fx.ids
    contract2 = ours(env, "Contracts", "contractNumber", "K", i["contract2"])
    cs = ours(env, "ContractServices", "internalDescription", "U", i["sub3"])
    with Person(env) as person:
        person.adjust(contract2["id"], "2026-02-20", 1, contractServiceID=cs["id"])
    with env.factory() as s:
        sub3 = s.get(m.Subscription, i["sub3"])
        assert sub3 is not None
        s.expunge(sub3)
    hub.change(sub3, date(2026, 3, 1), 6)
    assert env.sync().status == "partial"  # the read-back found 7 where the hub has 6
    assert env.statuses()[("subscription", i["sub3"])]["status"] == "drift"

    before = found(env, reconcile(env, date(2026, 2, 10)))  # before the person's change: seats agree
    assert [(d["category"], d["record"]) for d in before] == [("drift", ("subscription", i["sub3"]))]
    assert "show 7 unit(s) on 2026-03-01, the billing hub 6" in before[0]["autotask"]

    run = reconcile(env, date(2026, 3, 15))
    [seats] = found(env, run)
    assert (seats["category"], seats["autotask"], seats["hub"]) == ("seats", 7, 6)
    assert "Drift" in seats["detail"]
    report = approve_and_apply(env, run, [fix_of(seats, "adjust")])
    assert report.applied and not report.failed
    assert env.statuses()[("subscription", i["sub3"])]["status"] == "synced"
    assert found(env, reconcile(env, date(2026, 3, 15))) == []


def test_a_lost_link_is_found_by_key_and_relinked_without_an_api_call(env: SyncEnv, hub: Hub) -> None:
    fx = build_fixture(hub)
    assert env.sync().status == "succeeded"
    contract = ours(env, "Contracts", "contractNumber", "K", fx.ids["contract"])
    with env.factory() as s:  # PSA Bridge's database lost the link (restored from an older backup)
        s.execute(
            update(SyncLink)
            .where(SyncLink.record_type == "billing_contract", SyncLink.hub_id == fx.ids["contract"])
            .values(autotask_id=None, status="pending")
        )
        s.commit()
    run = reconcile(env, date(2026, 3, 15))
    [unlinked] = found(env, run)
    assert (unlinked["category"], unlinked["autotask_id"]) == ("unlinked", contract["id"])
    relink = next(x for x in unlinked["fixes"] if x["kind"] == "relink")
    assert relink["cost"] == 0
    writes = env.writes()
    report = approve_and_apply(env, run, [relink["id"]])
    assert report.applied == [relink["id"]] and env.writes() == writes
    assert env.statuses()[("billing_contract", fx.ids["contract"])]["autotask_id"] == contract["id"]
    assert found(env, reconcile(env, date(2026, 3, 15))) == []
    assert env.plan().plan.operations == []


def test_sample_data_with_repeat_services_reconciles_clean(env: SyncEnv, hub: Hub) -> None:
    env.set_settings(allow_duplicated_services=True)
    with env.factory() as s:
        org = s.get(m.Organization, env.org_id)
        assert org is not None
        generate(s, org, customers=6, seed=7)
        s.commit()
    acc = hub.account("Repeat Customer")
    contract = hub.contract(acc, start=date(2026, 1, 1))
    product = hub.product("Microsoft 365 E5")
    first = hub.subscription(contract, product, quantity=5)
    repeat = hub.subscription(contract, product, quantity=3, start=date(2026, 2, 1))
    hub.change(repeat, date(2026, 3, 1), 7)
    hub.change(first, date(2026, 3, 1), 4)
    assert env.sync().status == "succeeded"
    assert all(v["status"] == "synced" for v in env.statuses().values())
    for day in (date(2024, 6, 30), date(2025, 6, 30), date(2026, 6, 30)):  # sample data: 2023 to 2025
        run = reconcile(env, day)
        assert found(env, run) == [], day
        assert run.api_calls == run.minimum_calls
