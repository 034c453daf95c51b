"""Connector settings chosen from a tenant by the recommended labels, for the demo, tests and benchmarks.

A person picks these on the connector form; unattended set-ups (``psabridge demo``, end-to-end tests,
benchmarks) need the same choices made the same way: by label from the tenant's own picklists and records,
never by hard-coded ids.
"""

from __future__ import annotations

from typing import Any

from psabridge.autotask import AutotaskClient
from psabridge.autotask.query import F
from psabridge.connectors.declarations import PERIOD_LABELS as DECLARED_PERIODS
from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency

#: the first recommended label of each frequency (the seeded tenant's; triennial has none there)
PERIOD_LABELS: dict[BillingFrequency, str] = {
    BillingFrequency(freq): labels[0] for freq, labels in DECLARED_PERIODS.items() if freq != "triennial"
}


def recommended_settings(client: AutotaskClient, **overrides: Any) -> AutotaskConnectorSettings:
    """Customer / Recurring Service / Vendor types, the first active resource as owner, the first active
    material and recurring billing codes, a product with SKU ``REFUND`` (else named like "Refund") as
    refund product, period types by label, and every vendor company as a manufacturer of its own name."""
    codes = list(
        client.query("BillingCodes", F.eq("isActive", True), include_fields=["id", "name", "useType"])
    )
    material = client.picklist_value("BillingCodes", "useType", "Material")
    recurring = client.picklist_value("BillingCodes", "useType", "Recurring Contract Service")
    product_code = next(c["id"] for c in codes if c["useType"] == material)
    service_code = next(c["id"] for c in codes if c["useType"] == recurring)
    setup_code = next((c["id"] for c in codes if "setup" in str(c["name"]).lower()), product_code)
    owner = next(
        iter(client.query("Resources", F.eq("isActive", True), include_fields=["id"], max_records=1))
    )
    products = list(client.query("Products", F.eq("isActive", True), include_fields=["id", "name", "sku"]))
    refund = next(
        (p for p in products if str(p.get("sku") or "").upper() == "REFUND"),
        next(p for p in products if "refund" in str(p.get("name") or "").lower()),
    )
    vendor_type = client.picklist_value("Companies", "companyType", "Vendor")
    vendors = client.query(
        "Companies", F.eq("companyType", vendor_type), include_fields=["id", "companyName"]
    )
    periods = {}
    contract_periods = {}
    for frequency, label in PERIOD_LABELS.items():
        periods[frequency] = client.picklist_value("Services", "periodType", label)
        contract_periods[frequency] = client.picklist_value("Contracts", "contractPeriodType", label)
    values: dict[str, Any] = {
        "allow_duplicated_services": False,
        "time_reporting_requires_start_and_stop_times": True,
        "setup_fee_enabled": True,
        "setup_fee_billing_code_id": setup_code,
        "default_charge_type": client.picklist_value("ContractCharges", "chargeType", "Operational"),
        "default_company_type": client.picklist_value("Companies", "companyType", "Customer"),
        "default_billing_preference": client.picklist_value("Contracts", "billingPreference", "Immediately"),
        "default_contract_type": client.picklist_value("Contracts", "contractType", "Recurring Service"),
        "default_vendor_type": vendor_type,
        "default_owner_resource_id": owner["id"],
        "default_refund_product_id": refund["id"],
        "product_billing_code_id": product_code,
        "service_billing_code_id": service_code,
        "billing_frequencies": periods,
        "contract_period_types": contract_periods,
        "manufacturers": {str(v["companyName"]): int(v["id"]) for v in vendors},
    }
    values.update(overrides)
    return AutotaskConnectorSettings(**values)
