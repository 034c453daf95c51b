"""Properties of the pure decision function over generated hub states (hypothesis):

* applying a plan (every operation succeeding) and planning again gives an empty plan;
* a plan never updates a field its record type does not own, and never sends an update without one;
* every record gets exactly one status, and a record waits only for a record that is not usable;
* dependency order: an operation only references records created earlier in the plan or already linked.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency, OwnerSource
from psabridge.sync.keys import RECORD_TYPES, ref
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

START = date(2026, 1, 1)
FREQUENCIES = ["monthly", "quarterly", "annual", "triennial"]


def _settings(allow_duplicates: bool) -> AutotaskConnectorSettings:
    return AutotaskConnectorSettings(
        allow_duplicated_services=allow_duplicates,
        setup_fee_enabled=True,
        setup_fee_billing_code_id=806,
        default_charge_type=1,
        default_company_type=1,
        default_billing_preference=2,
        default_contract_type=7,
        default_vendor_type=7,
        default_owner_resource_id=885,
        owner_source=OwnerSource.ACCOUNT_OWNER_EMAIL,
        default_refund_product_id=212,
        product_billing_code_id=803,
        service_billing_code_id=810,
        billing_frequencies={
            BillingFrequency.MONTHLY: 2,
            BillingFrequency.QUARTERLY: 3,
            BillingFrequency.ANNUAL: 5,
        },
        contract_period_types={
            BillingFrequency.MONTHLY: 12,
            BillingFrequency.QUARTERLY: 13,
            BillingFrequency.ANNUAL: 15,
        },
    )


VIEW = AutotaskView(
    facts=TenantFacts(
        contract_status_active=1,
        contract_status_inactive=0,
        field_lengths={"Companies": {"companyname": 30}},
        resources_by_email={"owner@msp.example": 886},
    )
)


@st.composite
def hubs(draw: st.DrawFn) -> HubSnapshot:
    n_accounts = draw(st.integers(1, 3))
    accounts = []
    for i in range(1, n_accounts + 1):
        contact = (
            HubContact(100 + i, f"c{i}", "Ada", f"L{i}", None, None, True)
            if draw(st.booleans()) or i == 1
            else None
        )
        phone = draw(st.sampled_from(["+1 555 0100", "+1 555 0100 x12", None, "n/a"]))
        name = draw(
            st.sampled_from([f"Account {i}", f"A very long company name number {i} that Autotask refuses"])
        )
        owner = draw(st.sampled_from([None, "owner@msp.example", "nobody@msp.example"]))
        accounts.append(
            HubAccount(i, f"a{i}", name, phone, None, None, None, None, None, owner, "active", contact)
        )
    products = [
        HubProduct(200 + i, f"p{i}", f"Product {i}", None, None, kind, Decimal("5"), None, True, None)
        for i, kind in enumerate(["service", "service", "product"])
    ]
    contracts = []
    for i in range(1, draw(st.integers(1, 3)) + 1):
        contracts.append(
            HubContract(
                300 + i,
                f"k{i}",
                draw(st.sampled_from([a.id for a in accounts])),
                f"Contract {i}",
                draw(st.sampled_from(["recurring"] * 8 + ["item_based"])),
                draw(st.sampled_from(FREQUENCIES[:3] * 3 + FREQUENCIES[3:])),
                START,
                None,
                draw(st.sampled_from(["active", "active", "expired"])),
                draw(st.sampled_from([None, Decimal("150")])),
            )
        )
    subs: list[HubSubscription] = []
    logs: list[HubChangeLog] = []
    log_id = 500
    for i in range(1, draw(st.integers(1, 6)) + 1):
        contract = draw(st.sampled_from(contracts))
        # mostly the first service product: several subscriptions of it on one contract are repeats
        product = draw(st.sampled_from([products[0]] * 4 + products[1:]))
        start = START + timedelta(days=draw(st.sampled_from([0, 0, 14, -3])))
        quantity = draw(st.integers(0, 12))
        sub_logs = []
        running = quantity
        for _ in range(draw(st.integers(0, 3))):
            log_id += 1
            day = start + timedelta(days=draw(st.sampled_from([0, 10, 10, 40])))
            after = draw(st.integers(0, 15))
            refund = draw(st.integers(0, 9)) == 0
            price = draw(st.sampled_from([None, None, Decimal("6.5")]))
            status = draw(st.sampled_from(["active", "active", "active", "archived"]))
            sub_logs.append(
                HubChangeLog(
                    log_id,
                    f"l{log_id}",
                    400 + i,
                    day,
                    running,
                    running if refund else after,
                    price,
                    status,
                    refund,
                    Decimal("12.50") if refund else None,
                    day + timedelta(days=2),
                )
            )
            if status == "active" and not refund:
                running = after
        cancelled = draw(st.integers(0, 5)) == 0
        subs.append(
            HubSubscription(
                400 + i,
                f"s{i}",
                contract.id,
                product.id,
                0 if cancelled else running,
                Decimal("5"),
                None,
                start,
                None,
                "cancelled" if cancelled else "active",
                START + timedelta(days=60),
            )
        )
        logs += sub_logs
    return HubSnapshot(1, tuple(accounts), tuple(products), tuple(contracts), tuple(subs), tuple(logs))


def _applied(result: Plan, links: dict[tuple[str, int], LinkState]) -> dict[tuple[str, int], LinkState]:
    """Links as if every operation of ``result`` had succeeded (what the journal records)."""
    out = dict(links)
    for i, op in enumerate(result.operations, start=10_000):
        autotask_id = op.autotask_id if op.verb in ("update", "link") else i
        if op.verb != "adjust":
            out[(op.record_type, op.hub_id)] = LinkState(
                op.record_type,
                op.hub_id,
                autotask_id,
                None,
                op.fingerprint,
                "synced",
                created_with=op.created_with,
            )
        else:
            out[(op.record_type, op.hub_id)] = LinkState(
                op.record_type, op.hub_id, None, None, None, "synced"
            )
        for rt, hid in op.covers:
            if (rt, hid) != (op.record_type, op.hub_id):
                out[(rt, hid)] = LinkState(rt, hid, None, None, None, "synced")
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hub=hubs(), allow_duplicates=st.booleans())
def test_applying_a_plan_then_planning_again_plans_nothing(hub: HubSnapshot, allow_duplicates: bool) -> None:
    s = _settings(allow_duplicates)
    first = plan(hub, VIEW, {}, s)
    again = plan(hub, VIEW, _applied(first, {}), s)
    assert again.operations == [], [op.summary for op in again.operations]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hub=hubs(), allow_duplicates=st.booleans())
def test_a_plan_writes_only_what_it_owns_in_dependency_order(
    hub: HubSnapshot, allow_duplicates: bool
) -> None:
    result = plan(hub, VIEW, {}, _settings(allow_duplicates))
    created: set[str] = set()
    for op in result.operations:
        rt = RECORD_TYPES[op.record_type]
        if op.verb == "update":
            assert set(op.body) - {"id"} <= rt.owned | {rt.key_field}, op.summary
        refs = {v["$ref"] for v in (*op.body.values(), op.parent) if isinstance(v, dict) and "$ref" in v}
        assert refs <= created, (op.summary, refs - created)
        if op.verb in ("create", "link"):
            created.add(ref(op.record_type, op.hub_id))
    seen = [(r.record_type, r.hub_id) for r in result.records]
    assert len(seen) == len(set(seen)), "a record got two statuses"
    usable = {
        ref(r.record_type, r.hub_id) for r in result.records if r.status in ("synced", "pending", "drift")
    }
    for r in result.records:
        if r.status == "waiting":
            assert r.reason and r.reason.startswith("Waiting for ")
        if r.status == "pending" and r.record_type == "subscription":
            assert (
                ref("billing_contract", next(s.contract_id for s in hub.subscriptions if s.id == r.hub_id))
                in usable
            )
