"""Products tab: one-time products -> Autotask Products; service products -> one Autotask Service per
product and billing frequency it is sold at (the period type comes from the Billing Frequencies setting,
the billing code from Billing Codes for Services/Products, the vendor from Manufacturers).

Owned: the name (and a product's active flag). Sent once on create: billing code, period type, SKU,
manufacturer/vendor, description and list prices (never pushed again: a price change rides on an
adjustment). Blocked: no billing code configured; a frequency without a period type (new services only).
"""

from __future__ import annotations

from collections import defaultdict

from psabridge.connectors.settings import BillingFrequency
from psabridge.sync.records.base import Desired, RecordType, money, without_none
from psabridge.sync.records.context import PlanContext, RecordModule
from psabridge.sync.snapshot import HubProduct, HubSnapshot

FREQ_CODES: dict[str, str] = {
    BillingFrequency.MONTHLY.value: "M",
    BillingFrequency.QUARTERLY.value: "Q",
    BillingFrequency.SEMI_ANNUAL.value: "H",
    BillingFrequency.ANNUAL.value: "Y",
    BillingFrequency.TRIENNIAL.value: "T",
}

PRODUCT = RecordType(
    "product", "products", "Products", "externalProductID", "P", owned=frozenset({"name", "isActive"})
)
SERVICES = tuple(
    RecordType(f"service.{freq}", "products", "Services", "externalID", f"S{code}", owned=frozenset({"name"}))
    for freq, code in FREQ_CODES.items()
)


def service_type(frequency: str) -> str:
    """Record type of the Autotask Service of a product sold at ``frequency``."""
    return f"service.{frequency}"


def _frequency_order(freq: str) -> int:
    return list(BillingFrequency).index(BillingFrequency(freq))


def sold_at(hub: HubSnapshot) -> dict[int, set[str]]:
    """Service product id -> billing frequencies its subscriptions are billed at."""
    if hub.sold_at is not None:
        kinds = {p.id: p.kind for p in hub.products}
        return {pid: set(freqs) for pid, freqs in hub.sold_at.items() if kinds.get(pid) == "service"}
    contracts = {c.id: c for c in hub.contracts}
    products = {p.id: p for p in hub.products}
    used: dict[int, set[str]] = defaultdict(set)
    for sub in hub.subscriptions:
        contract = contracts.get(sub.contract_id)
        product = products.get(sub.product_id)
        if contract is not None and product is not None and product.kind == "service":
            used[product.id].add(contract.billing_frequency)
    return used


def plan(ctx: PlanContext) -> None:
    for p in sorted(ctx.hub.products, key=lambda p: p.id):
        if p.kind == "product":
            _product(ctx, p)
    used = sold_at(ctx.hub)
    for pid in sorted(used):
        for freq in sorted(used[pid], key=_frequency_order):
            _service(ctx, ctx.products[pid], freq)


def _product(ctx: PlanContext, p: HubProduct) -> None:
    d = Desired(
        PRODUCT.name,
        p.id,
        p.name,
        owned={"name": p.name, "isActive": p.is_active},
        create_only=without_none(
            {
                "productBillingCodeID": ctx.settings.product_billing_code_id,
                "isSerialized": False,
                "sku": p.sku,
                "manufacturerName": p.manufacturer,
                "description": p.description,
                "unitPrice": money(p.unit_price),
                "unitCost": money(p.unit_cost),
            }
        ),
    )
    if ctx.settings.product_billing_code_id is None:
        ctx.block(d, "No billing code configured for products (setting Billing Codes for Products)")
        return
    ctx.upsert(d)


def _service(ctx: PlanContext, p: HubProduct, freq: str) -> None:
    label = f"{p.name} ({freq.replace('_', '-')})"
    period = ctx.settings.billing_frequencies.get(BillingFrequency(freq))
    vendor = ctx.settings.manufacturers.get(p.manufacturer) if p.manufacturer else None
    d = Desired(
        service_type(freq),
        p.id,
        label,
        owned={"name": label},
        create_only=without_none(
            {
                "unitPrice": money(p.unit_price),
                "unitCost": money(p.unit_cost),
                "periodType": period,
                "billingCodeID": ctx.settings.service_billing_code_id,
                "sku": p.sku,
                "description": p.description,
                "vendorCompanyID": vendor,
            }
        ),
        created_with={"periodType": period},
    )
    if ctx.settings.service_billing_code_id is None:
        ctx.block(d, "No billing code configured for services (setting Billing Codes for Services)")
    elif period is None and not ctx.linked(d.record_type, p.id):
        ctx.block(d, f"Billing frequency {freq!r} has no Autotask period type (setting Billing Frequencies)")
    else:
        ctx.upsert(d)


def _hub_ids(hub: HubSnapshot) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    out[PRODUCT.name] = [p.id for p in hub.products if p.kind == "product"]
    for pid, freqs in sorted(sold_at(hub).items()):
        for freq in sorted(freqs):
            out[service_type(freq)].append(pid)
    return dict(out)


MODULE = RecordModule(
    name="products",
    types=(PRODUCT, *SERVICES),
    plan=plan,
    include_fields={
        "Products": ["id", "externalProductID", "name", "isActive"],
        "Services": ["id", "externalID", "name"],
    },
    hub_ids=_hub_ids,
)
