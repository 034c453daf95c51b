"""SCENARIOS 12-17: pre-flight checks refuse a record with the reason on its row, and write nothing for it;
records depending on a refused one wait for it instead of failing a second time."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from psabridge.connectors.settings import BillingFrequency
from tests.sync.support import Hub, SyncEnv


def _ours(env: SyncEnv, entity: str, field: str) -> list[dict[str, Any]]:
    prefix = f"PSB{env.org_id}-"
    return [r for r in env.records(entity) if str(r.get(field) or "").startswith(prefix)]


@pytest.mark.parametrize(
    ("phone", "contact", "reason"),
    [
        ("", True, "no valid phone number"),
        ("call me", True, "no valid phone number"),
        ("+1 555 0199", False, "no primary contact"),
    ],
)
def test_account_without_phone_or_primary_contact(
    env: SyncEnv, hub: Hub, phone: str, contact: bool, reason: str
) -> None:
    """SCENARIO 12 (and 17: its contract and subscriptions wait for it)."""
    bad = hub.account("Tailspin Toys", phone=phone or None, contact=contact)
    good = hub.account("Adatum Corp")
    contract = hub.contract(bad)
    sub = hub.subscription(contract, hub.product())
    run = env.sync()
    assert run.status == "succeeded"
    st = env.statuses()
    assert st[("account", bad.id)]["status"] == "blocked"
    assert reason in st[("account", bad.id)]["reason"]
    assert st[("billing_contract", contract.id)]["status"] == "waiting"
    assert st[("billing_contract", contract.id)]["reason"] == "Waiting for Tailspin Toys"
    assert st[("subscription", sub.id)]["status"] == "waiting"
    assert st[("account", good.id)]["status"] == "synced"
    numbers = {c["companyNumber"] for c in _ours(env, "Companies", "companyNumber")}
    assert numbers == {f"PSB{env.org_id}-A{good.id}"}
    assert not any(c["companyName"] == "Tailspin Toys" for c in env.records("Companies"))
    assert _ours(env, "Contracts", "contractNumber") == []


def test_item_based_contract_is_refused(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 13."""
    acc = hub.account("Litware Inc")
    contract = hub.contract(acc, contract_type="item_based")
    sub = hub.subscription(contract, hub.product())
    env.sync()
    st = env.statuses()
    assert st[("billing_contract", contract.id)]["status"] == "blocked"
    assert "Item Based" in st[("billing_contract", contract.id)]["reason"]
    assert st[("subscription", sub.id)]["status"] == "waiting"
    assert st[("account", acc.id)]["status"] == "synced"
    assert _ours(env, "Contracts", "contractNumber") == []
    assert _ours(env, "ContractServices", "internalDescription") == []


def test_subscription_starting_before_its_contract(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 14."""
    acc = hub.account("Proseware Ltd")
    contract = hub.contract(acc, start=date(2026, 3, 1))
    early = hub.subscription(contract, hub.product(), start=date(2026, 2, 1))
    change = hub.change(early, date(2026, 3, 10), 12)
    fine = hub.subscription(contract, hub.product("Datto Backup", manufacturer="Datto"))
    env.sync()
    st = env.statuses()
    assert st[("subscription", early.id)]["status"] == "blocked"
    assert "before its billing contract starts (2026-03-01)" in st[("subscription", early.id)]["reason"]
    assert st[("license_change_log", change.id)]["status"] == "waiting"
    assert st[("subscription", fine.id)]["status"] == "synced"
    keys = {s["internalDescription"]: s for s in _ours(env, "ContractServices", "internalDescription")}
    assert set(keys) == {f"PSB{env.org_id}-U{fine.id}"}
    fine_service = keys[f"PSB{env.org_id}-U{fine.id}"]["id"]
    assert [a["contractServiceID"] for a in env.adjustments()] == [fine_service]  # its initial seats only


def test_duplicate_service_refused_when_not_allowed(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 15 with Allow Duplicated Services = No."""
    acc = hub.account("Coho Winery")
    contract = hub.contract(acc)
    product = hub.product()
    first = hub.subscription(contract, product, quantity=5)
    second = hub.subscription(contract, product, quantity=3)
    env.sync()
    st = env.statuses()
    assert st[("subscription", first.id)]["status"] == "synced"
    assert st[("subscription", second.id)]["status"] == "blocked"
    assert "Allow Duplicated Services is No" in st[("subscription", second.id)]["reason"]
    assert len(_ours(env, "ContractServices", "internalDescription")) == 1


def test_duplicate_service_allowed(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 15 with Allow Duplicated Services = Yes: two contract services, each with its units."""
    env.set_settings(allow_duplicated_services=True)
    acc = hub.account("Coho Winery")
    contract = hub.contract(acc)
    product = hub.product()
    first = hub.subscription(contract, product, quantity=5)
    second = hub.subscription(contract, product, quantity=3)
    assert env.sync().status == "succeeded"
    from tests.sync.support import name_repeats, units_on

    services = {
        s["internalDescription"]: s
        for s in name_repeats(env, env.records("ContractServices"))
        if str(s.get("internalDescription") or "").startswith(f"PSB{env.org_id}-")
    }
    assert set(services) == {f"PSB{env.org_id}-U{first.id}", f"PSB{env.org_id}-U{second.id}"}
    contract_id = services[f"PSB{env.org_id}-U{first.id}"]["contractID"]
    assert len([s for s in env.records("ContractServices") if s["contractID"] == contract_id]) == 2

    assert units_on(env, services[f"PSB{env.org_id}-U{first.id}"]["id"], "2026-01-05") == 5
    assert units_on(env, services[f"PSB{env.org_id}-U{second.id}"]["id"], "2026-01-05") == 3
    assert env.plan().plan.operations == []


def test_product_kind_without_billing_code(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 16: no billing code for services → the service is refused; its subscriptions wait."""
    env.set_settings(service_billing_code_id=None)
    acc = hub.account("Alpine Ski House")
    contract = hub.contract(acc)
    product = hub.product()
    one_time = hub.product("Firewall appliance", kind="product")
    sub = hub.subscription(contract, product)
    env.sync()
    st = env.statuses()
    assert st[("service.monthly", product.id)]["status"] == "blocked"
    assert "Billing Codes for Services" in st[("service.monthly", product.id)]["reason"]
    assert st[("subscription", sub.id)]["status"] == "waiting"
    assert st[("product", one_time.id)]["status"] == "synced"  # products have their code
    assert _ours(env, "Services", "externalID") == []
    env.set_settings(product_billing_code_id=None)
    hub.product("Switch", kind="product")
    env.sync()
    assert "Billing Codes for Products" in env.statuses()[("product", one_time.id + 1)]["reason"]


def test_billing_frequency_without_mapping(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 16: a triennial contract has no Autotask period type."""
    env.set_settings(billing_frequencies={BillingFrequency.MONTHLY: 3})
    acc = hub.account("Blue Yonder Airlines")
    contract = hub.contract(acc, billing_frequency="triennial", name="Three-year plan")
    product = hub.product()
    sub = hub.subscription(contract, product)
    env.sync()
    st = env.statuses()
    assert st[("service.triennial", product.id)]["status"] == "blocked"
    assert "'triennial' has no Autotask period type" in st[("service.triennial", product.id)]["reason"]
    assert st[("subscription", sub.id)]["status"] == "waiting"
    assert "Waiting for" in st[("subscription", sub.id)]["reason"]
    assert _ours(env, "ContractServices", "internalDescription") == []
