"""Services tab: each subscription -> a contract service of its product's Autotask Service on its
contract's Autotask Contract.

A contract service is created with its matching key (``internalDescription``) and no units: Autotask's
ContractService has no units field, its seats come only from adjustments (the ``changes`` module, which
starts with the initial seats). With Allow Duplicated Services, a second subscription of a product on
one contract is a *repeat*: Autotask refuses a second contract service of a service on a contract, so it
is added by an adjustment with ``allowRepeatService`` carrying its first seats (and the change logs of its
start date), and linked by the id found afterwards — Autotask does not let a contract service's
internalDescription be updated, so a repeat carries no key.

Blocked: a one-time product, a subscription starting before its contract, a second subscription of a
product on a contract while Allow Duplicated Services is No.
"""

from __future__ import annotations

from typing import Any

from psabridge.sync.records.base import Desired, RecordType, at_date, money, ref
from psabridge.sync.records.context import PlanContext, RecordModule
from psabridge.sync.records.products import service_type
from psabridge.sync.snapshot import HubChangeLog, HubContract, HubProduct, HubSubscription

SUBSCRIPTION = RecordType("subscription", "services", "ContractServices", "internalDescription", "U")


def initial_units(ctx: PlanContext, sub: HubSubscription) -> int:
    """Units at the subscription's start: its quantity minus the net of its active change logs."""
    active = [lg for lg in ctx.logs_by_sub.get(sub.id, []) if lg.status == "active"]
    return max(sub.quantity - sum(lg.delta for lg in active), 0)


def carried_by_repeat(ctx: PlanContext, sub: HubSubscription) -> tuple[int, tuple[HubChangeLog, ...]]:
    """Units (and the change logs dated on the subscription's start) carried by the adjustment that
    adds a repeat contract service: Autotask takes one adjustment of a service per date, so whatever
    happens on that date rides on the first one."""
    same_day = tuple(
        lg
        for lg in ctx.logs_by_sub.get(sub.id, [])
        if lg.status == "active" and lg.effective_date == sub.start_date and not lg.is_refund
    )
    if any(lg.unit_price is not None and lg.unit_price != sub.unit_price for lg in same_day):
        same_day = ()  # a price change on the start date: the adjustment carries the start price only
    return initial_units(ctx, sub) + sum(lg.delta for lg in same_day), same_day


def plan(ctx: PlanContext) -> None:
    seen: dict[tuple[int, int], HubSubscription] = {}
    for sub in sorted(ctx.hub.subscriptions, key=lambda s: s.id):
        contract = ctx.contracts.get(sub.contract_id)
        product = ctx.products.get(sub.product_id)
        if contract is None or product is None:
            label = f"{sub.product_id} x{sub.quantity} ({sub.contract_id})"
            ctx.record(SUBSCRIPTION.name, sub.id, label, "blocked", "Contract or product is missing")
            continue
        _subscription(ctx, sub, contract, product, seen)


def _subscription(
    ctx: PlanContext,
    sub: HubSubscription,
    contract: HubContract,
    product: HubProduct,
    seen: dict[tuple[int, int], HubSubscription],
) -> None:
    contract_ref = ref("billing_contract", contract.id)
    service_ref = ref(service_type(contract.billing_frequency), product.id)
    d = Desired(
        SUBSCRIPTION.name,
        sub.id,
        f"{product.name} x{sub.quantity} ({contract.name})",
        owned={},
        create_only={
            "contractID": {"$ref": contract_ref},
            "serviceID": {"$ref": service_ref},
            "unitPrice": money(sub.unit_price),
            **({"unitCost": money(sub.unit_cost)} if sub.unit_cost is not None else {}),
        },
        parent={"$ref": contract_ref},
        depends=(contract_ref, service_ref),
    )
    first = seen.get((contract.id, product.id))
    repeat = first is not None and ctx.settings.allow_duplicated_services
    if repeat:
        d.create_only = _repeat_adjustment(ctx, sub, contract_ref, service_ref)
    else:
        # keyed on create (internalDescription); its units come from adjustments only
        d.create_only["internalDescription"] = ctx.key(SUBSCRIPTION.name, sub.id)
    if product.kind != "service":
        ctx.block(d, f"Product {product.name!r} is one-time; subscriptions need a service product")
    elif sub.start_date < contract.start_date:
        ctx.block(
            d,
            f"Subscription starts {sub.start_date.isoformat()}, before its billing contract "
            f"starts ({contract.start_date.isoformat()})",
        )
    elif first is not None and not ctx.settings.allow_duplicated_services:
        ctx.block(
            d,
            f"Contract already has a subscription of {product.name!r} (#{first.id}) and "
            "Allow Duplicated Services is No",
        )
    else:
        seen.setdefault((contract.id, product.id), sub)
        ctx.upsert(d, repeat=repeat)


def _repeat_adjustment(
    ctx: PlanContext, sub: HubSubscription, contract_ref: str, service_ref: str
) -> dict[str, Any]:
    """The adjustment that adds a repeat contract service with its first units."""
    units, carried = carried_by_repeat(ctx, sub)
    if ctx.linked(SUBSCRIPTION.name, sub.id):
        # already added: only the logs it did carry count as carried (a later same-day log is a
        # change of its own, which Autotask refuses on that date: the changes module says so)
        carried = tuple(lg for lg in carried if ctx.synced("license_change_log", lg.id))
        units = initial_units(ctx, sub) + sum(lg.delta for lg in carried)
    ctx.repeats[sub.id] = (units, carried)
    body: dict[str, Any] = {
        "contractID": {"$ref": contract_ref},
        "serviceID": {"$ref": service_ref},
        "allowRepeatService": True,
        "effectiveDate": at_date(sub.start_date),
        "unitChange": units,
        "adjustedUnitPrice": money(sub.unit_price),
    }
    if sub.unit_cost is not None:
        body["adjustedUnitCost"] = money(sub.unit_cost)
    return body


MODULE = RecordModule(
    name="services",
    types=(SUBSCRIPTION,),
    plan=plan,
    include_fields={"ContractServices": ["id", "internalDescription", "contractID", "serviceID"]},
    hub_ids=lambda hub: {SUBSCRIPTION.name: [s.id for s in hub.subscriptions]},
)
