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


def test_product_sold_monthly_and_annually_gets_one_service_per_frequency(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 3."""
    acc = hub.account("Bellows College")
    product = hub.product("Datto SaaS Protection", manufacturer="Datto")
    monthly = hub.contract(acc, name="Monthly")
    annual = hub.contract(acc, name="Annual", billing_frequency="annual")
    hub.subscription(monthly, product, quantity=5)
    hub.subscription(annual, product, quantity=7)
    assert env.sync().status == "succeeded"
    with env.factory() as s:
        from psabridge.connectors.models import Connector

        conn = s.get(Connector, env.connector_id)
        assert conn is not None
        settings = conn.settings_json
    services = {
        s["externalID"]: s
        for s in env.records("Services")
        if str(s.get("externalID") or "").startswith(f"PSB{env.org_id}-")
    }
    assert set(services) == {f"PSB{env.org_id}-SM{product.id}", f"PSB{env.org_id}-SY{product.id}"}
    m, y = services[f"PSB{env.org_id}-SM{product.id}"], services[f"PSB{env.org_id}-SY{product.id}"]
    assert m["periodType"] == settings["billing_frequencies"]["monthly"]
    assert y["periodType"] == settings["billing_frequencies"]["annual"]
    assert m["billingCodeID"] == y["billingCodeID"] == settings["service_billing_code_id"]
    assert m["vendorCompanyID"] == settings["manufacturers"]["Datto"]
    assert m["name"] == "Datto SaaS Protection (monthly)" and y["name"] == "Datto SaaS Protection (annual)"
    by_contract = {c["contractID"]: c["serviceID"] for c in env.records("ContractServices")}
    contracts = {c["contractNumber"]: c["id"] for c in env.records("Contracts") if c.get("contractNumber")}
    assert by_contract[contracts[f"PSB{env.org_id}-K{monthly.id}"]] == m["id"]
    assert by_contract[contracts[f"PSB{env.org_id}-K{annual.id}"]] == y["id"]


def test_one_time_products_become_autotask_products(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 4."""
    firewall = hub.product("Firewall appliance", kind="product", manufacturer="Sophos", sku="XGS-87")
    refund = hub.product("Service credit", kind="product", manufacturer=None, sku="CREDIT")
    assert env.sync().status == "succeeded"
    with env.factory() as s:
        from psabridge.connectors.models import Connector

        conn = s.get(Connector, env.connector_id)
        assert conn is not None
        code = conn.settings_json["product_billing_code_id"]
    products = {
        p["externalProductID"]: p
        for p in env.records("Products")
        if str(p.get("externalProductID") or "").startswith(f"PSB{env.org_id}-")
    }
    assert set(products) == {f"PSB{env.org_id}-P{firewall.id}", f"PSB{env.org_id}-P{refund.id}"}
    fw = products[f"PSB{env.org_id}-P{firewall.id}"]
    assert fw["name"] == "Firewall appliance" and fw["productBillingCodeID"] == code and fw["sku"] == "XGS-87"
    assert fw["manufacturerName"] == "Sophos"
    assert products[f"PSB{env.org_id}-P{refund.id}"]["productBillingCodeID"] == code
    assert env.plan().plan.operations == []
