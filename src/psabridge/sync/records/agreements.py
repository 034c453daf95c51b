"""Agreements tab: each billing contract -> an Autotask Contract of type Recurring Service.

Owned: name, start and end dates (an open-ended billing contract ends five years after its start:
Autotask requires an end date), status (picklist "Active"/"Inactive", looked up by label). Sent once on
create: company, contract type, billing preference, time-reporting flag, contract period type (Autotask
requires one on Recurring Service contracts and never lets it change; mapped from the billing frequency
by the Billing Frequencies setting) and the setup fee (charged once, when the contract is created).
Blocked: Item Based contracts, settings missing, a frequency without a contract period type (new
contracts only).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psabridge.connectors.settings import BillingFrequency
from psabridge.sync.records.base import Desired, RecordType, at_date, money, ref
from psabridge.sync.records.context import PlanContext, RecordModule
from psabridge.sync.snapshot import HubContract

CONTRACT = RecordType(
    "billing_contract",
    "agreements",
    "Contracts",
    "contractNumber",
    "K",
    owned=frozenset({"contractName", "startDate", "endDate", "status"}),
)
#: Autotask contracts need an end date; an open-ended billing contract gets this many years.
OPEN_ENDED_CONTRACT_YEARS = 5


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def plan(ctx: PlanContext) -> None:
    for contract in sorted(ctx.hub.contracts, key=lambda c: c.id):
        _contract(ctx, contract)


def _contract(ctx: PlanContext, c: HubContract) -> None:
    s = ctx.settings
    facts = ctx.view.facts
    end = c.end_date or add_years(c.start_date, OPEN_ENDED_CONTRACT_YEARS)
    status = facts.contract_status_active if c.status == "active" else facts.contract_status_inactive
    owned: dict[str, Any] = {
        "contractName": c.name,
        "startDate": at_date(c.start_date),
        "endDate": at_date(end),
    }
    if status is not None:
        owned["status"] = status
    account_ref = ref("account", c.account_id)
    period = s.contract_period_types.get(BillingFrequency(c.billing_frequency))
    create_only: dict[str, Any] = {
        "companyID": {"$ref": account_ref},
        "contractType": s.default_contract_type,
        "billingPreference": s.default_billing_preference,
        "timeReportingRequiresStartAndStopTimes": 1 if s.time_reporting_requires_start_and_stop_times else 0,
    }
    if s.setup_fee_enabled and c.setup_fee is not None and c.setup_fee > 0:
        create_only["setupFee"] = money(c.setup_fee)
        create_only["setupFeeBillingCodeID"] = s.setup_fee_billing_code_id
    create_only["contractPeriodType"] = period
    d = Desired(
        CONTRACT.name,
        c.id,
        c.name,
        owned,
        create_only,
        depends=(account_ref,),
        created_with={"contractPeriodType": period},
    )
    if c.contract_type == "item_based":
        ctx.block(d, "Item Based billing contracts are not supported: contracts must be Recurring")
    elif s.default_contract_type is None or s.default_billing_preference is None:
        ctx.block(d, "Settings Default Contract Type and Default Billing Preference must be chosen")
    elif period is None and not ctx.linked(CONTRACT.name, c.id):
        ctx.block(
            d,
            f"Billing frequency {c.billing_frequency.replace('_', '-')!r} has no Autotask contract period "
            "type (setting Billing Frequencies); Autotask requires one on every Recurring Service contract",
        )
    elif status is None:
        ctx.block(d, "The tenant has no Contracts status 'Active'/'Inactive' picklist value")
    else:
        ctx.upsert(d)


MODULE = RecordModule(
    name="agreements",
    types=(CONTRACT,),
    plan=plan,
    include_fields={
        "Contracts": ["id", "contractNumber", "contractName", "startDate", "endDate", "status", "companyID"],
    },
    hub_ids=lambda hub: {CONTRACT.name: [c.id for c in hub.contracts]},
)
