"""Charges (shown on the Changes tab): each refund (a license change log with the refund flag and an
amount) -> a contract charge with the Default Refund Product, a negative unit price, the Default Charge
Type, dated at the log's effective date and keyed by ``purchaseOrderNumber``. Blocked: those two settings
missing.
"""

from __future__ import annotations

from psabridge.sync.records.base import Desired, RecordType, at_date, ref
from psabridge.sync.records.context import PlanContext, RecordModule

REFUND = RecordType("refund", "charges", "ContractCharges", "purchaseOrderNumber", "R")


def plan(ctx: PlanContext) -> None:
    subs = {s.id: s for s in ctx.hub.subscriptions}
    for lg in sorted(ctx.hub.logs, key=lambda lg: (lg.effective_date, lg.id)):
        if not lg.is_refund or lg.status != "active" or not lg.refund_amount:
            continue
        sub = subs.get(lg.subscription_id)
        if sub is None:
            continue
        product = ctx.products.get(sub.product_id)
        contract_ref = ref("billing_contract", sub.contract_id)
        d = Desired(
            REFUND.name,
            lg.id,
            f"Refund {lg.refund_amount} for {product.name if product else sub.id} on {lg.effective_date}",
            owned={},
            create_only={
                "contractID": {"$ref": contract_ref},
                "name": f"Refund: {product.name if product else 'subscription'}",
                "datePurchased": at_date(lg.effective_date),
                "chargeType": ctx.settings.default_charge_type,
                "productID": ctx.settings.default_refund_product_id,
                "unitQuantity": 1,
                "unitPrice": -float(lg.refund_amount),
                "unitCost": 0,
                "isBillableToCompany": True,
            },
            parent={"$ref": contract_ref},
            depends=(contract_ref,),
        )
        if ctx.settings.default_refund_product_id is None or ctx.settings.default_charge_type is None:
            ctx.block(d, "Settings Default Refund Product and Default Charge Type must be chosen")
        else:
            ctx.upsert(d)


MODULE = RecordModule(
    name="charges",
    types=(REFUND,),
    plan=plan,
    include_fields={"ContractCharges": ["id", "purchaseOrderNumber", "contractID"]},
    hub_ids=lambda hub: {REFUND.name: [lg.id for lg in hub.logs if lg.is_refund and lg.refund_amount]},
)
