"""SCENARIOS 18-20: name alone never links; fields people own are left alone; no change, no write."""

from __future__ import annotations

from datetime import date

from psabridge.sync import service
from tests.sync.support import Hub, SyncEnv, count_calls


def test_same_name_company_is_a_suggestion_then_add_new_creates(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 18: the seeded tenant already has "Contoso Ltd"."""
    acc = hub.account("Contoso Ltd")
    before = len(env.records("Companies"))
    env.sync()
    st = env.statuses()[("account", acc.id)]
    assert st["status"] == "needs_link"
    assert [c["name"] for c in st["candidates"]] == ["Contoso Ltd"]
    assert len(env.records("Companies")) == before  # nothing linked or created without the user
    seeded = next(c for c in env.records("Companies") if c["companyName"] == "Contoso Ltd")
    assert not seeded.get("companyNumber")

    with env.factory() as s:
        service.choose_add_new(s, env.org_id, "account", acc.id)
    assert env.sync().status == "succeeded"
    contosos = [c for c in env.records("Companies") if c["companyName"] == "Contoso Ltd"]
    assert len(contosos) == 2
    assert sorted(str(c.get("companyNumber") or "") for c in contosos) == ["", f"PSB{env.org_id}-A{acc.id}"]


def test_confirmed_link_writes_the_key_into_the_existing_company(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 18: linking to the suggested company uses it (no new company)."""
    acc = hub.account("Contoso Ltd", phone="+1 555 0100")
    env.sync()
    candidate = env.statuses()[("account", acc.id)]["candidates"][0]["id"]
    with env.factory() as s:
        service.link_record(s, env.org_id, "account", acc.id, candidate)
    before = len(env.records("Companies"))
    assert env.sync().status == "succeeded"
    assert len(env.records("Companies")) == before
    linked = next(c for c in env.records("Companies") if c["id"] == candidate)
    assert linked["companyNumber"] == f"PSB{env.org_id}-A{acc.id}"
    assert env.statuses()[("account", acc.id)]["status"] == "synced"
    assert [c for c in env.records("Contacts") if c["companyID"] == candidate and c.get("externalID")]


def test_fields_people_own_are_left_alone(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 19: a person edits the company's address and the contract's description in Autotask."""
    acc = hub.account("Trey Research", address_line1="1 Main St")
    contract = hub.contract(acc)
    hub.subscription(contract, hub.product())
    env.sync()
    company = next(
        c for c in env.records("Companies") if c.get("companyNumber") == f"PSB{env.org_id}-A{acc.id}"
    )
    k = next(
        c for c in env.records("Contracts") if c.get("contractNumber") == f"PSB{env.org_id}-K{contract.id}"
    )
    client = env.client()
    client.update("Companies", {"id": company["id"], "address1": "99 Person Road"})
    client.update("Contracts", {"id": k["id"], "description": "Agreed by phone with Ada"})
    # the hub changes something it owns on both
    with env.factory() as s:
        from psabridge.hub import models as m

        a = s.get(m.Account, acc.id)
        c = s.get(m.BillingContract, contract.id)
        assert a is not None and c is not None
        a.phone, a.address_line1 = "+1 555 0177", "1 Hub Street"
        c.name = "Trey Research Managed Services"
        s.commit()
    assert env.sync().status == "succeeded"
    company = next(c for c in env.records("Companies") if c["id"] == company["id"])
    k = next(c for c in env.records("Contracts") if c["id"] == k["id"])
    assert company["phone"] == "+1 555 0177" and company["address1"] == "99 Person Road"
    assert k["contractName"] == "Trey Research Managed Services"
    assert k["description"] == "Agreed by phone with Ada"


def test_nothing_changed_plans_nothing_and_writes_nothing(env: SyncEnv, hub: Hub) -> None:
    """SCENARIO 20."""
    acc = hub.account("Margie's Travel")
    contract = hub.contract(acc)
    sub = hub.subscription(contract, hub.product(), quantity=8)
    hub.change(sub, date(2026, 2, 1), 9)
    assert env.sync().status == "succeeded"
    env.emu.control.clear_calls()
    result = env.plan()
    assert result.plan.operations == [] and result.plan.write_calls == 0
    run = env.sync()
    assert run.status == "succeeded" and run.planned_operations == 0
    calls = env.emu.control.calls()["calls"]
    assert count_calls(calls, writes_only=True) == 0
    assert count_calls(calls) <= 2  # at most the cached picklist metadata; no record reads
