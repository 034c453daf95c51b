"""SCENARIOS 5-11: seat changes after the first sync land as adjustments only (and refunds as charges)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tests.sync.support import Hub, SyncEnv, count_calls, units_on


def _synced_subscription(env: SyncEnv, hub: Hub, quantity: int = 10) -> tuple[Any, dict[str, Any]]:
    acc = hub.account("Wide World Importers")
    contract = hub.contract(acc, start=date(2026, 1, 1))
    sub = hub.subscription(contract, hub.product(), quantity=quantity)
    assert env.sync().status == "succeeded"
    cs = next(
        s
        for s in env.records("ContractServices")
        if s.get("internalDescription") == f"PSB{env.org_id}-U{sub.id}"
    )
    # its seats came from one adjustment at the start (a contract service carries no units)
    initial = [a for a in env.adjustments() if a["contractServiceID"] == cs["id"]]
    assert [(a["unitChange"], a["effectiveDate"][:10]) for a in initial] == [(quantity, "2026-01-01")]
    assert units_on(env, cs["id"], "2026-01-01") == quantity
    cs["initial_adjustments"] = {a["id"] for a in initial}
    env.emu.control.clear_calls()
    return sub, cs


def _adjustments_of(env: SyncEnv, cs: dict[str, Any]) -> list[dict[str, Any]]:
    """The adjustments written after the first sync."""
    return [
        a
        for a in env.adjustments()
        if a["contractServiceID"] == cs["id"] and a["id"] not in cs["initial_adjustments"]
    ]


def test_seat_increase_on_the_15th(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 5 (and 11: only that change is written, nothing is read one by one)."""
    sub, cs = _synced_subscription(env, hub)
    hub.change(sub, date(2026, 2, 15), 15)
    run = env.sync()
    assert run.status == "succeeded"
    adj = _adjustments_of(env, cs)
    assert len(adj) == 1
    assert adj[0]["unitChange"] == 5 and adj[0]["effectiveDate"].startswith("2026-02-15")
    assert units_on(env, cs["id"], "2026-02-14") == 10
    assert units_on(env, cs["id"], "2026-02-20") == 15
    calls = env.emu.control.calls()["calls"]
    assert count_calls(calls, writes_only=True) == 1
    assert sum(v.get("get", 0) for v in calls.values()) == 0  # no read-before-write
    # linked records unchanged: no batched read before; after the push one date-filtered read of
    # Autotask's units checks what it will invoice
    assert calls == {"ContractServiceAdjustments": {"create": 1}, "ContractServiceUnits": {"query": 1}}


def test_seat_decrease(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 6."""
    sub, cs = _synced_subscription(env, hub)
    hub.change(sub, date(2026, 3, 1), 7)
    assert env.sync().status == "succeeded"
    adj = _adjustments_of(env, cs)
    assert [(a["unitChange"], a["effectiveDate"][:10]) for a in adj] == [(-3, "2026-03-01")]
    assert units_on(env, cs["id"], "2026-03-05") == 7


def test_two_changes_same_day_merge_into_one_adjustment(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 7."""
    sub, cs = _synced_subscription(env, hub)
    first = hub.change(sub, date(2026, 2, 10), 14)
    second = hub.change(sub, date(2026, 2, 10), 12)
    plan = env.plan().plan
    assert len(plan.operations) == 1 and plan.operations[0].body["unitChange"] == 2
    assert run_ok(env)
    adj = _adjustments_of(env, cs)
    assert [(a["unitChange"], a["effectiveDate"][:10]) for a in adj] == [(2, "2026-02-10")]
    statuses = env.statuses()
    assert statuses[("license_change_log", first.id)]["status"] == "synced"
    assert statuses[("license_change_log", second.id)]["status"] == "synced"
    assert units_on(env, cs["id"], "2026-02-11") == 12


def run_ok(env: SyncEnv) -> bool:
    return env.sync().status == "succeeded"


def test_cancellation_adjusts_to_zero_and_keeps_the_service(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 8."""
    sub, cs = _synced_subscription(env, hub)
    hub.change(sub, date(2026, 4, 1), 0, reason="cancelled")
    with env.factory() as s:
        from psabridge.hub import models as m

        row = s.get(m.Subscription, sub.id)
        assert row is not None
        row.status, row.end_date = "cancelled", date(2026, 4, 1)
        s.commit()
    assert run_ok(env)
    assert [a["unitChange"] for a in _adjustments_of(env, cs)] == [-10]
    assert units_on(env, cs["id"], "2026-04-02") == 0
    assert any(s["id"] == cs["id"] for s in env.records("ContractServices"))
    assert env.plan().plan.operations == []


def test_cancellation_without_a_log_still_goes_to_zero(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 8, when the billing side only flags the subscription cancelled."""
    sub, cs = _synced_subscription(env, hub, quantity=4)
    with env.factory() as s:
        from psabridge.hub import models as m

        row = s.get(m.Subscription, sub.id)
        assert row is not None
        row.status, row.end_date = "cancelled", date(2026, 5, 1)
        s.commit()
    assert run_ok(env)
    assert [(a["unitChange"], a["effectiveDate"][:10]) for a in _adjustments_of(env, cs)] == [
        (-4, "2026-05-01")
    ]


def test_refund_becomes_negative_charge(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 9."""
    sub, cs = _synced_subscription(env, hub)
    log = hub.change(
        sub, date(2026, 2, 20), 10, is_refund=True, refund_amount=Decimal("44.00"), reason="credit"
    )
    assert run_ok(env)
    charges = [c for c in env.records("ContractCharges") if c["contractID"] == cs["contractID"]]
    assert len(charges) == 1
    ch = charges[0]
    with env.factory() as s:
        from psabridge.connectors.models import Connector

        conn = s.get(Connector, env.connector_id)
        assert conn is not None
        settings = conn.settings_json
    assert ch["productID"] == settings["default_refund_product_id"]
    assert ch["chargeType"] == settings["default_charge_type"]
    assert float(ch["unitPrice"]) * float(ch["unitQuantity"]) == -44.0
    assert ch["datePurchased"].startswith("2026-02-20")
    assert ch["purchaseOrderNumber"] == f"PSB{env.org_id}-R{log.id}"
    assert _adjustments_of(env, cs) == []  # no seat change carried by this refund
    assert run_ok(env)
    assert len([c for c in env.records("ContractCharges") if c["contractID"] == cs["contractID"]]) == 1


def test_new_unit_price_rides_on_the_adjustment(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 10: the adjustment carries the adjusted price; the product's list price is never pushed."""
    sub, cs = _synced_subscription(env, hub)
    service_before = next(s for s in env.records("Services") if s["id"] == cs["serviceID"])
    hub.change(sub, date(2026, 3, 1), 12, unit_price=Decimal("19.50"))
    with env.factory() as s:
        from psabridge.hub import models as m

        product = s.get(m.Product, sub.product_id)
        assert product is not None
        product.unit_price = Decimal("99.00")
        s.commit()
    assert run_ok(env)
    adj = _adjustments_of(env, cs)
    assert len(adj) == 1 and float(adj[0]["adjustedUnitPrice"]) == 19.5 and adj[0]["unitChange"] == 2
    service_after = next(s for s in env.records("Services") if s["id"] == cs["serviceID"])
    assert service_after["unitPrice"] == service_before["unitPrice"]


def test_archived_change_is_corrected_by_an_opposite_adjustment(env: SyncEnv, hub: Hub) -> None:
    """History is never edited: a pushed change that is archived in the hub gets an opposite adjustment."""
    from psabridge.hub.service import archive_license_change_log

    sub, cs = _synced_subscription(env, hub)
    log = hub.change(sub, date(2026, 2, 15), 16)
    assert run_ok(env)
    with env.factory() as s:
        archive_license_change_log(s, env.org_id, log.id)
        s.commit()
        from psabridge.hub import models as m

        row = s.get(m.Subscription, sub.id)
        assert row is not None and row.quantity == 10
    plan = env.plan().plan
    assert [(op.record_type, op.body["unitChange"]) for op in plan.operations] == [("reversal", -6)]
    assert run_ok(env)
    adj = _adjustments_of(env, cs)
    assert sorted(a["unitChange"] for a in adj) == [-6, 6]
    assert units_on(env, cs["id"], "2026-02-15") == 16  # the pushed history stays
    assert units_on(env, cs["id"], date.today().isoformat()) == 10
    assert env.plan().plan.operations == []


def test_an_update_keeps_the_create_only_values_recorded_at_creation(env: SyncEnv, hub: Hub) -> None:
    """A contract's ``created_with`` (its contractPeriodType) survives a later rename: the plan uses it
    to say when a settings change contradicts what Autotask holds (a JSON null must not overwrite it)."""
    from sqlalchemy import select

    from psabridge.hub import models as m
    from psabridge.sync.models import SyncLink

    acc = hub.account("Fourth Coffee")
    contract = hub.contract(acc, start=date(2026, 1, 1))
    hub.subscription(contract, hub.product(), quantity=3)
    assert env.sync().status == "succeeded"

    def created_with() -> Any:
        with env.factory() as s:
            return s.scalars(
                select(SyncLink.created_with).where(
                    SyncLink.record_type == "billing_contract", SyncLink.hub_id == contract.id
                )
            ).one()

    before = created_with()
    assert before and "contractPeriodType" in before
    with env.factory() as s:
        s.get(m.BillingContract, contract.id).name = "Fourth Coffee renewed"  # type: ignore[union-attr]
        s.commit()
    run = env.sync()
    assert run.status == "succeeded"
    assert run.planned_operations == 1
    assert created_with() == before
