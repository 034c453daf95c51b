"""The first sync of the sample data writes exactly the operations recorded in tests/fixtures.

A safety net for restructuring the planner: the decision function must keep making the same plan. Hub
ids differ between databases, so every id is replaced by the record's external id before comparing.
Regenerate after an intended change of the plan with ``PSABRIDGE_UPDATE_GOLDEN=1 pytest this file``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency
from psabridge.hub.orgs import create_organization
from psabridge.hub.sample_data import generate
from psabridge.sync.hub_loader import load_snapshot
from psabridge.sync.keys import RECORD_TYPES
from psabridge.sync.planner import plan
from psabridge.sync.snapshot import AutotaskView, HubSnapshot, TenantFacts

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "sample_first_plan.json"

SETTINGS = AutotaskConnectorSettings(
    allow_duplicated_services=True,
    setup_fee_enabled=True,
    setup_fee_billing_code_id=806,
    default_charge_type=1,
    default_company_type=1,
    default_billing_preference=2,
    default_contract_type=7,
    default_vendor_type=7,
    default_owner_resource_id=885,
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
    manufacturers={"Microsoft": 174, "Datto": 175},
)
VIEW = AutotaskView(
    facts=TenantFacts(
        contract_status_active=1,
        contract_status_inactive=0,
        field_lengths={"Companies": {"companyname": 100, "phone": 25}, "Contracts": {"contractname": 100}},
    ),
    company_candidates={"cedar schools": [{"id": 183, "name": "Cedar Schools", "city": None}]},
)


def _names(hub: HubSnapshot) -> dict[str, dict[int, str]]:
    """Hub id -> external id, per kind of record (what stays the same across databases)."""
    contacts = {
        a.primary_contact.id: a.primary_contact.external_id for a in hub.accounts if a.primary_contact
    }
    return {
        "product": {p.id: p.external_id for p in hub.products},
        "account": {a.id: a.external_id for a in hub.accounts},
        "contact": contacts,
        "billing_contract": {c.id: c.external_id for c in hub.contracts},
        "subscription": {s.id: s.external_id for s in hub.subscriptions},
        "log": {lg.id: lg.external_id for lg in hub.logs},
    }


def _kind(record_type: str) -> str:
    if record_type.startswith("service."):
        return "product"
    if record_type in ("license_change_log", "reversal", "refund"):
        return "log"
    if record_type in ("subscription_start", "cancellation"):
        return "subscription"
    return record_type


def _canonical(value: Any, names: dict[str, dict[int, str]], org_id: int) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v, names, org_id) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v, names, org_id) for v in value]
    if isinstance(value, str):
        ref = re.fullmatch(r"([a-z_.]+):(\d+)(.*)", value)
        if ref and (ref.group(1) in RECORD_TYPES or ref.group(1) in ("create", "update", "link", "adjust")):
            return value  # op ids are rewritten by the caller
        key = re.fullmatch(rf"PSB{org_id}-([A-Z]+)(\d+)", value)
        if key:
            code = key.group(1)
            rt = next(t for t in RECORD_TYPES.values() if t.code == code)
            return f"PSB-{code}{names[_kind(rt.name)].get(int(key.group(2)), key.group(2))}"
    return value


def _canonical_ref(value: str, names: dict[str, dict[int, str]]) -> str:
    def repl(m: re.Match[str]) -> str:
        return f"{m.group(1)}:{names[_kind(m.group(1))].get(int(m.group(2)), m.group(2))}"

    return re.sub(r"([a-z_]+(?:\.[a-z_]+)?):(\d+)", repl, value)


def _canonical_plan(hub: HubSnapshot) -> dict[str, Any]:
    result = plan(hub, VIEW, {}, SETTINGS)
    names = _names(hub)
    ops = []
    for op in result.operations:
        data = op.to_dict()
        data["op_id"] = _canonical_ref(data["op_id"], names)
        data["hub_id"] = names[_kind(op.record_type)].get(op.hub_id, op.hub_id)
        data["covers"] = [[rt, names[_kind(rt)].get(hid, hid)] for rt, hid in op.covers]
        data = _canonical(data, names, hub.organization_id)
        data["body"] = json.loads(_canonical_ref(json.dumps(data["body"], sort_keys=True), names))
        data["parent"] = json.loads(_canonical_ref(json.dumps(data["parent"]), names))
        data["label"] = op.label
        ops.append(data)
    records = sorted(
        (r.record_type, str(names[_kind(r.record_type)].get(r.hub_id, r.hub_id)), r.status, r.reason or "")
        for r in result.records
    )
    return {"operations": ops, "records": [list(r) for r in records], "notices": result.notices}


def test_the_sample_data_first_plan_is_unchanged(db: Session) -> None:
    org = create_organization(db, "Golden MSP", "golden")
    generate(db, org, customers=25, seed=1)
    db.commit()
    got = _canonical_plan(load_snapshot(db, org.id))
    if os.environ.get("PSABRIDGE_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert len(got["operations"]) == len(expected["operations"])
    for i, (mine, theirs) in enumerate(zip(got["operations"], expected["operations"], strict=True)):
        assert mine == theirs, f"operation {i} differs"
    assert got["records"] == expected["records"]
    assert got["notices"] == expected["notices"]
