"""The decision function alone: no database, no network, same inputs -> same plan."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency
from psabridge.sync.planner import Plan, plan
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
    contract_period_types={BillingFrequency.MONTHLY: 12},
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
        ("changes", "ContractServiceAdjustments"),
    ]
    contract = first.operations[3]
    assert contract.body["contractPeriodType"] == 12  # Autotask requires one on type 7 contracts
    # a contract service carries no units (Autotask's ContractService has no such field) but its key;
    # its first seats (here the initial-quantity log) are an adjustment on the start date
    cs, initial = first.operations[-2:]
    assert "unitQuantity" not in cs.body and cs.body["internalDescription"] == "PSB1-U5"
    assert (initial.body["effectiveDate"], initial.body["unitChange"], initial.units_after) == (
        "2026-01-01T00:00:00",
        10,
        10,
    )
    assert initial.covers == (("license_change_log", 1),)


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
    assert "unitQuantity" not in next(o for o in ops if o.entity == "ContractServices").body


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


def _linked(result: Plan) -> dict[tuple[str, int], LinkState]:
    """Links as if every operation of ``result`` had succeeded."""
    links: dict[tuple[str, int], LinkState] = {}
    for i, op in enumerate(result.operations, start=100):
        links[(op.record_type, op.hub_id)] = LinkState(
            op.record_type, op.hub_id, i, None, op.fingerprint, "synced", created_with=op.created_with
        )
        for rt, hid in op.covers:
            links.setdefault((rt, hid), LinkState(rt, hid, None, None, None, "synced"))
    return links


def test_initial_units_and_same_day_logs_are_one_adjustment() -> None:
    hub = _hub(_log(1, date(2026, 1, 1), 4, 10), quantity=10)  # 4 seats from the start, +6 the same day
    adjust = [o for o in plan(hub, VIEW, {}, SETTINGS).operations if o.verb == "adjust"]
    assert len(adjust) == 1
    assert (adjust[0].body["unitChange"], adjust[0].units_after) == (10, 10)
    assert adjust[0].covers == (("subscription_start", 5), ("license_change_log", 1))


def test_repeat_services_get_their_own_seats_through_the_adjustment_that_adds_them() -> None:
    hub = _hub(_log(1, date(2026, 1, 1), 0, 10))
    second = HubSubscription(
        6, "s2", 4, 3, 3, Decimal("4.5"), None, date(2026, 3, 1), None, "active", date(2026, 3, 1)
    )
    hub = HubSnapshot(1, hub.accounts, hub.products, hub.contracts, (*hub.subscriptions, second), hub.logs)
    allowed = SETTINGS.model_copy(update={"allow_duplicated_services": True})
    result = plan(hub, VIEW, {}, allowed)
    repeat = next(o for o in result.operations if o.hub_id == 6 and o.record_type == "subscription")
    assert repeat.repeat and repeat.cost == 2
    assert repeat.body == {
        "contractID": {"$ref": "billing_contract:4"},
        "serviceID": {"$ref": "service.monthly:3"},
        "allowRepeatService": True,
        "effectiveDate": "2026-03-01T00:00:00",
        "unitChange": 3,
        "adjustedUnitPrice": 4.5,
    }
    assert not [o for o in result.operations if o.verb == "adjust" and o.hub_id == 6]
    assert plan(hub, VIEW, _linked(result), allowed).operations == []
    refused = plan(hub, VIEW, {}, SETTINGS)
    blocked = next(r for r in refused.records if r.record_type == "subscription" and r.hub_id == 6)
    assert blocked.status == "blocked" and "Allow Duplicated Services is No" in (blocked.reason or "")


def test_a_value_longer_than_autotask_allows_blocks_the_record_and_names_the_field() -> None:
    hub = _hub(_log(1, date(2026, 1, 1), 0, 10))
    account = hub.accounts[0]
    long_name = "A" * 101
    hub = HubSnapshot(
        1,
        (
            HubAccount(
                *[long_name if f == "name" else getattr(account, f) for f in account.__dataclass_fields__]
            ),
        ),
        hub.products,
        hub.contracts,
        hub.subscriptions,
        hub.logs,
    )
    view = AutotaskView(
        facts=TenantFacts(
            contract_status_active=1,
            contract_status_inactive=0,
            field_lengths={"Companies": {"companyname": 100, "phone": 25}},
        )
    )
    result = plan(hub, view, {}, SETTINGS)
    company = next(r for r in result.records if r.record_type == "account")
    assert company.status == "blocked"
    assert company.reason == (
        "Companies companyName is 101 characters long, but Autotask allows at most 100: shorten it in the "
        "billing hub"
    )
    assert not [o for o in result.operations if o.entity in ("Companies", "Contracts", "ContractServices")]
    waiting = next(r for r in result.records if r.record_type == "billing_contract")
    assert waiting.status == "waiting"


def test_a_frequency_without_contract_period_type_blocks_new_contracts() -> None:
    hub = _hub(_log(1, date(2026, 1, 1), 0, 10))
    unmapped = SETTINGS.model_copy(update={"contract_period_types": {}})
    result = plan(hub, VIEW, {}, unmapped)
    contract = next(r for r in result.records if r.record_type == "billing_contract")
    assert contract.status == "blocked" and "contract period type" in (contract.reason or "")


def test_a_changed_billing_frequency_mapping_is_said_never_silently_ignored() -> None:
    hub = _hub(_log(1, date(2026, 1, 1), 0, 10))
    links = _linked(plan(hub, VIEW, {}, SETTINGS))
    changed = SETTINGS.model_copy(
        update={
            "billing_frequencies": {BillingFrequency.MONTHLY: 3},
            "contract_period_types": {BillingFrequency.MONTHLY: 13},
        }
    )
    view = AutotaskView(
        facts=TenantFacts(
            contract_status_active=1,
            contract_status_inactive=0,
            period_labels={2: "Monthly", 3: "Quarterly"},
            contract_period_labels={12: "Monthly", 13: "Quarterly"},
        )
    )
    result = plan(hub, view, links, changed)
    assert result.operations == []
    assert len(result.notices) == 2
    service_notice, contract_notice = result.notices
    assert service_notice.startswith(
        "Billing frequency monthly now maps to Quarterly as service period type: 1 existing Autotask "
        "record(s) created with Monthly are left as they are (Backup (monthly) (#100))"
    )
    assert "contract period type" in contract_notice and "Monthly (#" in contract_notice


def test_default_owner_source_by_account_owner_email() -> None:
    """Default Owner Source = "the resource whose email matches the account owner's, else the chosen one"."""
    from psabridge.connectors.settings import OwnerSource

    hub = _hub(_log(1, date(2026, 1, 1), 0, 10))
    account = hub.accounts[0]

    def with_owner(email: str | None) -> HubSnapshot:
        fields = {f: getattr(account, f) for f in account.__dataclass_fields__}
        fields["owner_email"] = email
        return HubSnapshot(
            1, (HubAccount(**fields),), hub.products, hub.contracts, hub.subscriptions, hub.logs
        )

    view = AutotaskView(
        facts=TenantFacts(
            contract_status_active=1,
            contract_status_inactive=0,
            resources_by_email={"sam.chen@msp.example": 892},
        )
    )
    by_email = SETTINGS.model_copy(update={"owner_source": OwnerSource.ACCOUNT_OWNER_EMAIL})

    def owner(snapshot: HubSnapshot, s: AutotaskConnectorSettings) -> int:
        company = next(o for o in plan(snapshot, view, {}, s).operations if o.entity == "Companies")
        return int(company.body["ownerResourceID"])

    assert owner(with_owner("Sam.Chen@msp.example"), by_email) == 892
    assert owner(with_owner("someone@else.example"), by_email) == 5  # no such resource: the chosen one
    assert owner(with_owner(None), by_email) == 5
    assert owner(with_owner("sam.chen@msp.example"), SETTINGS) == 5  # the fixed source ignores the owner


def test_one_phone_rule_the_hub_and_the_sync_agree() -> None:
    """A phone the billing hub accepts (an extension) is pushed, not blocked; one it refuses is blocked."""
    from psabridge.hub.validation import check_phone

    hub = _hub(_log(1, date(2026, 1, 1), 0, 10))
    account = hub.accounts[0]
    for phone, accepted in (("+1 555 0100 x12", True), ("020 7946 0018", True), ("555-01", False)):
        try:
            check_phone(phone)
            hub_accepts = True
        except ValueError:
            hub_accepts = False
        assert hub_accepts is accepted
        fields = {f: getattr(account, f) for f in account.__dataclass_fields__} | {"phone": phone}
        snapshot = HubSnapshot(
            1, (HubAccount(**fields),), hub.products, hub.contracts, hub.subscriptions, hub.logs
        )
        status = next(r for r in plan(snapshot, VIEW, {}, SETTINGS).records if r.record_type == "account")
        assert (status.status == "pending") is accepted, (phone, status.reason)


def test_changes_that_go_below_zero_seats_in_date_order_are_blocked_from_that_date() -> None:
    """Logs recorded later but dated earlier (4 -> 1 dated before 5 -> 4) leave a timeline Autotask
    cannot hold (-1 seats): the changes from that date on are blocked with the reason; earlier ones go."""
    hub = _hub(
        _log(1, date(2026, 1, 1), 0, 3),
        _log(2, date(2026, 4, 29), 4, 1),
        _log(3, date(2026, 6, 26), 5, 4),
        _log(4, date(2026, 11, 4), 3, 5),
        quantity=1,
    )
    result = plan(hub, VIEW, {}, SETTINGS)
    adjust = [
        (o.body["effectiveDate"][:10], o.body["unitChange"]) for o in result.operations if o.verb == "adjust"
    ]
    assert adjust == [("2026-01-01", 3), ("2026-04-29", -3)]
    blocked = {r.hub_id: r.reason for r in result.records if r.status == "blocked"}
    assert set(blocked) == {3, 4}
    assert "leave -1 seats on 2026-06-26" in (blocked[3] or "")
