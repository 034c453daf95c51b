"""SCENARIOS 1-4: new records land in Autotask with the settings applied and matching keys written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.sync.support import Hub, SyncEnv, units_on


def test_new_customer_monthly_contract_two_subscriptions(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 1."""
    acc = hub.account("Fabrikam Dental")
    m365 = hub.product("Microsoft 365 Business Premium")
    backup = hub.product("Datto Backup", manufacturer="Datto")
    contract = hub.contract(acc, start=date(2026, 1, 1))
    s1 = hub.subscription(contract, m365, quantity=12)
    s2 = hub.subscription(contract, backup, quantity=3, start=date(2026, 1, 15))

    run = env.sync()
    assert run.status == "succeeded", run.error

    settings_ = env.plan().plan  # no-op plan afterwards
    assert settings_.operations == []

    companies = [
        c for c in env.records("Companies") if c.get("companyNumber") == f"PSB{env.org_id}-A{acc.id}"
    ]
    assert len(companies) == 1
    company = companies[0]
    assert company["companyName"] == "Fabrikam Dental"
    assert company["phone"] == "+1 555 0100"
    assert company["companyType"] == 1  # Customer
    assert company["ownerResourceID"] is not None
    contacts = [c for c in env.records("Contacts") if c["companyID"] == company["id"]]
    assert len(contacts) == 1 and contacts[0]["lastName"] == "Fabrikam"
    contracts = [c for c in env.records("Contracts") if c["companyID"] == company["id"]]
    assert len(contracts) == 1
    k = contracts[0]
    assert k["startDate"].startswith("2026-01-01")
    assert k["contractType"] == 7  # Recurring Service
    assert k["timeReportingRequiresStartAndStopTimes"] in (1, True)
    services = [s for s in env.records("ContractServices") if s["contractID"] == k["id"]]
    assert len(services) == 2
    by_key = {s["internalDescription"]: s for s in services}
    cs1 = by_key[f"PSB{env.org_id}-U{s1.id}"]
    cs2 = by_key[f"PSB{env.org_id}-U{s2.id}"]
    assert units_on(env, cs1["id"], "2026-01-01") == 12
    assert units_on(env, cs2["id"], "2026-01-20") == 3
    assert units_on(env, cs2["id"], "2026-01-10") in (None, 0)  # not before its start date


def test_setup_fee_charged_once(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 2."""
    acc = hub.account()
    contract = hub.contract(acc, setup_fee=Decimal("150.00"))
    hub.subscription(contract, hub.product(), quantity=2)
    assert env.sync().status == "succeeded"
    k = [c for c in env.records("Contracts") if c.get("contractNumber") == f"PSB{env.org_id}-K{contract.id}"]
    assert len(k) == 1 and float(k[0]["setupFee"]) == 150.0
    writes = env.writes()
    # an update of the contract (name) must not charge the fee again
    with env.factory() as s:
        from psabridge.hub import models as m

        row = s.get(m.BillingContract, contract.id)
        assert row is not None
        row.name = "Renamed contract"
        s.commit()
    assert env.sync().status == "succeeded"
    assert env.writes() == writes + 1  # one PATCH of the owned fields
    k = [c for c in env.records("Contracts") if c.get("contractNumber") == f"PSB{env.org_id}-K{contract.id}"]
    assert k[0]["contractName"] == "Renamed contract" and float(k[0]["setupFee"]) == 150.0
    assert not [c for c in env.records("ContractCharges") if c["contractID"] == k[0]["id"]]
