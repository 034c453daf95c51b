"""The sync engine through its REST API (/api/v1/sync) and CLI (plan/sync --json), over real HTTP."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest
from typer.testing import CliRunner

from psabridge.hub.orgs import create_api_token, create_organization
from tests.sync.support import Hub, SyncEnv, make_env


def test_plan_apply_history_and_records_over_rest(
    env: SyncEnv, hub: Hub, api: tuple[httpx.Client, httpx.Client]
) -> None:
    admin, viewer = api
    acc = hub.account("Graphic Design Institute")
    blocked = hub.account("No Phone Co", phone=None)
    contract = hub.contract(acc)
    sub = hub.subscription(contract, hub.product(), quantity=4)
    hub.change(sub, date(2026, 2, 1), 6)

    plan = admin.post("/sync/plan")
    assert plan.status_code == 200, plan.text
    body = plan.json()
    verbs = [(op["phase"], op["verb"], op["entity"]) for op in body["operations"]]
    assert verbs == [
        ("products", "create", "Services"),
        ("customers", "create", "Companies"),
        ("customers", "create", "Contacts"),
        ("agreements", "create", "Contracts"),
        ("services", "create", "ContractServices"),
        ("changes", "adjust", "ContractServiceAdjustments"),  # its initial seats
        ("changes", "adjust", "ContractServiceAdjustments"),
    ]
    assert body["write_calls"] == 7
    assert viewer.post("/sync/plan").status_code == 403  # planning reads the tenant: admins only
    assert viewer.post("/sync/runs").status_code == 403

    # the plan wrote nothing to Autotask
    assert not [c for c in env.records("Companies") if c["companyName"] == "Graphic Design Institute"]

    run = admin.post("/sync/runs", json={})
    assert run.status_code == 201, run.text
    data = run.json()
    assert data["status"] == "succeeded" and data["mode"] == "apply"
    statuses = {(r["record_type"], r["hub_id"]): r for r in data["records"]}
    assert statuses[("account", blocked.id)]["status"] == "blocked"
    assert statuses[("subscription", sub.id)]["status"] == "synced"

    history = viewer.get("/sync/runs").json()
    assert [h["mode"] for h in history][:2] == ["apply", "plan"]
    assert "records" not in history[0]
    detailed = viewer.get("/sync/runs", params={"records": "true"}).json()
    assert {r["status"] for r in detailed[0]["records"]} >= {"synced", "blocked"}
    assert viewer.get(f"/sync/runs/{data['id']}").json()["records"]
    assert viewer.get("/sync/runs/99999").status_code == 404

    records = viewer.get("/sync/records", params={"phase": "customers"}).json()
    by = {(r["record_type"], r["hub_id"]): r for r in records}
    assert by[("account", blocked.id)]["reason"].startswith("Account has no valid phone number")
    assert by[("account", acc.id)]["status"] == "synced"
    assert all(r["phase"] == "customers" for r in records)


def test_link_endpoints(env: SyncEnv, hub: Hub, api: tuple[httpx.Client, httpx.Client]) -> None:
    admin, viewer = api
    acc = hub.account("Northwind Traders")  # exists in the seeded tenant
    admin.post("/sync/runs", json={})
    rec = next(r for r in admin.get("/sync/records").json() if r["record_type"] == "account")
    assert rec["status"] == "needs_link" and rec["candidates"][0]["name"] == "Northwind Traders"
    assert (
        viewer.post(
            "/sync/links", json={"record_type": "account", "hub_id": acc.id, "add_new": True}
        ).status_code
        == 403
    )
    bad = admin.post("/sync/links", json={"record_type": "account", "hub_id": acc.id})
    assert bad.status_code == 422
    ok = admin.post(
        "/sync/links",
        json={"record_type": "account", "hub_id": acc.id, "autotask_id": rec["candidates"][0]["id"]},
    )
    assert ok.status_code == 200 and ok.json()["decision"] == "link"
    assert admin.post("/sync/runs", json={}).json()["status"] == "succeeded"
    company = next(c for c in env.records("Companies") if c["id"] == rec["candidates"][0]["id"])
    assert company["companyNumber"] == f"PSB{env.org_id}-A{acc.id}"


def test_other_organizations_cannot_see_runs_or_records(
    env: SyncEnv, hub: Hub, api: tuple[httpx.Client, httpx.Client]
) -> None:
    admin, _ = api
    hub.account("Lucerne Publishing")
    run_id = admin.post("/sync/runs", json={}).json()["id"]
    with env.factory() as s:
        other = create_organization(s, "Other MSP", "other")
        _, token = create_api_token(s, other, role="admin")
        s.commit()
    base = str(admin.base_url)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as intruder:
        assert intruder.get(f"/sync/runs/{run_id}").status_code == 404
        assert intruder.get("/sync/records").json() == []
        assert intruder.get("/sync/runs").json() == []
        assert intruder.post("/sync/plan").status_code == 409  # no connector of its own


def test_cli_plan_and_sync_json(env: SyncEnv, hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from psabridge.cli import app
    from psabridge.config import get_settings

    monkeypatch.setenv("PSABRIDGE_AUTOTASK_ZONE_URL", env.emu.zone_url)
    get_settings.cache_clear()
    acc = hub.account("City Power & Light")
    hub.subscription(hub.contract(acc), hub.product(), quantity=2)
    runner = CliRunner()
    planned = runner.invoke(app, ["plan", "--org", "acme", "--json"])
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    assert plan["write_calls"] == len(plan["operations"]) == 6
    human = runner.invoke(app, ["plan", "--org", "acme"])
    assert "Create Companies 'City Power & Light'" in human.stdout
    synced = runner.invoke(app, ["sync", "--org", "acme", "--json"])
    assert synced.exit_code == 0, synced.output
    data = json.loads(synced.stdout)
    assert data["status"] == "succeeded" and data["planned_operations"] == 6
    again = json.loads(runner.invoke(app, ["plan", "--org", "acme", "--json"]).stdout)
    assert again["operations"] == []
    hub.account("Fourth Coffee", phone="n/a")
    human_sync = runner.invoke(app, ["sync", "--org", "acme"])
    assert human_sync.exit_code == 0, human_sync.output
    assert "Customers" in human_sync.stdout and "succeeded" in human_sync.stdout
    assert "Account has no valid phone number (n/a)" in human_sync.stdout
    missing = runner.invoke(app, ["sync", "--org", "nope"])
    assert missing.exit_code != 0


def test_second_organization_has_its_own_keys(env: SyncEnv, hub: Hub, session_factory, app_settings) -> None:  # type: ignore[no-untyped-def]
    """Two organizations on one tenant never adopt each other's records."""
    hub.account("Southridge Video")
    env.sync()
    other = make_env(env.emu, session_factory, app_settings, slug="beta")
    Hub(other.factory, other.org_id).account("Southridge Video")
    other.sync()
    st = other.statuses()
    account = next(v for k, v in st.items() if k[0] == "account")
    # the first organization's company carries its key, so it is not even suggested
    assert account["status"] == "synced"
    ours = [c for c in env.records("Companies") if c["companyName"] == "Southridge Video"]
    assert sorted(str(c["companyNumber"]) for c in ours) == sorted(
        [f"PSB{env.org_id}-A1", f"PSB{other.org_id}-A2"]
    )
    other.close()
