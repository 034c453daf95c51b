"""The decision function alone: no database, no network, same inputs -> same plan."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency
from psabridge.sync.planner import plan
from psabridge.sync.snapshot import (
    AutotaskView,
    HubAccount,
    HubChangeLog,
    HubContact,
    HubContract,
    HubProduct,
    HubSnapshot,
    HubSubscription,
    LinkState,
    TenantFacts,
)

SETTINGS = AutotaskConnectorSettings(
    default_charge_type=1,
    default_company_type=1,
    default_billing_preference=2,
    default_contract_type=7,
    default_vendor_type=7,
    default_owner_resource_id=5,
    default_refund_product_id=212,
    product_billing_code_id=100,
    service_billing_code_id=200,
    billing_frequencies={BillingFrequency.MONTHLY: 2},
)
VIEW = AutotaskView(facts=TenantFacts(contract_status_active=1, contract_status_inactive=0))


def _hub(*logs: HubChangeLog, quantity: int = 10, sub_start: date = date(2026, 1, 1)) -> HubSnapshot:
    contact = HubContact(11, "c", "Ada", "Lovelace", None, None, True)
    account = HubAccount(
        1, "a", "Analytical Engines", "+1 555 0100", None, None, None, None, None, None, "active", contact
    )
    product = HubProduct(3, "p", "Backup", None, None, "service", Decimal("5"), None, True, None)
    contract = HubContract(
        4, "k", 1, "Monthly", "recurring", "monthly", date(2026, 1, 1), None, "active", None
    )
    sub = HubSubscription(
        5, "s", 4, 3, quantity, Decimal("5"), None, sub_start, None, "active", date(2026, 1, 1)
    )
    return HubSnapshot(1, (account,), (product,), (contract,), (sub,), logs)


def _log(i: int, day: date, before: int, after: int, **kw: object) -> HubChangeLog:
    return HubChangeLog(i, f"l{i}", 5, day, before, after, kw.get("price"), "active", False, None)  # type: ignore[arg-type]


def test_same_inputs_same_plan_in_dependency_order() -> None:
    hub = _hub(_log(1, date(2026, 1, 1), 0, 10))
    first, second = plan(hub, VIEW, {}, SETTINGS), plan(hub, VIEW, {}, SETTINGS)
    assert [o.to_dict() for o in first.operations] == [o.to_dict() for o in second.operations]
    assert [(o.phase, o.entity) for o in first.operations] == [
        ("products", "Services"),
        ("customers", "Companies"),
        ("customers", "Contacts"),
        ("agreements", "Contracts"),
        ("services", "ContractServices"),
    ]
    # the initial-quantity log rides on the contract service create: one write
    cs = first.operations[-1]
    assert cs.body["unitQuantity"] == 10 and cs.covers == (("license_change_log", 1),)


def test_same_day_logs_merge_and_later_start_gets_an_adjustment() -> None:
    hub = _hub(
        _log(1, date(2026, 1, 10), 0, 10),
        _log(2, date(2026, 2, 3), 10, 14),
        _log(3, date(2026, 2, 3), 14, 13),
        sub_start=date(2026, 1, 10),
        quantity=13,
    )
    ops = plan(hub, VIEW, {}, SETTINGS).operations
    adjust = [o for o in ops if o.verb == "adjust"]
    assert [(o.body["effectiveDate"][:10], o.body["unitChange"], o.units_after) for o in adjust] == [
        ("2026-01-10", 10, 10),
        ("2026-02-03", 3, 13),
    ]
    assert adjust[1].covers == (("license_change_log", 2), ("license_change_log", 3))
    assert next(o for o in ops if o.entity == "ContractServices").body["unitQuantity"] == 0


def test_linked_and_unchanged_means_empty_plan() -> None:
    hub = _hub(_log(1, date(2026, 1, 1), 0, 10))
    first = plan(hub, VIEW, {}, SETTINGS)
    links = {}
    for i, op in enumerate(first.operations, start=100):
        links[(op.record_type, op.hub_id)] = LinkState(
            op.record_type, op.hub_id, i, None, op.fingerprint, "synced"
        )
        for rt, hid in op.covers:
            links.setdefault((rt, hid), LinkState(rt, hid, None, None, None, "synced"))
    again = plan(hub, VIEW, links, SETTINGS)
    assert again.operations == [] and again.write_calls == 0
    assert {r.status for r in again.records} == {"synced"}
