"""The Reconcile tab and ``/api/v1/reconciliations`` over HTTP: roles (viewers read, admins reconcile,
approve and apply), tenancy, problem+json errors naming the field, CSV export, the trace."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx

from psabridge.hub.orgs import create_api_token
from tests.reconcile.scenario import DAY, changed_by_hand
from tests.reconcile.support import found
from tests.support.web import csrf_from, signed_in_client
from tests.sync.support import Hub, SyncEnv


def _token(env: SyncEnv, role: str) -> str:
    from psabridge.hub.models import Organization

    with env.factory() as s:
        org = s.get(Organization, env.org_id)
        assert org is not None
        _, plain = create_api_token(s, org, role=role, name=f"{role} token")
        s.commit()
    return plain


def test_the_api_reconciles_approves_applies_and_exports(env: SyncEnv, hub: Hub, reconcile_app: str) -> None:
    changed_by_hand(env, hub)
    admin = httpx.Client(
        base_url=reconcile_app, headers={"Authorization": f"Bearer {_token(env, 'admin')}"}, timeout=60
    )
    viewer = httpx.Client(
        base_url=reconcile_app, headers={"Authorization": f"Bearer {_token(env, 'viewer')}"}, timeout=60
    )

    bad = admin.post("/api/v1/reconciliations", json={"date": "2026-13-45"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "date"
    assert viewer.post("/api/v1/reconciliations", json={}).status_code == 403
    estimate = viewer.get("/api/v1/reconciliations/estimate", params={"date": DAY.isoformat()}).json()[
        "api_calls"
    ]

    started = admin.post("/api/v1/reconciliations", json={"date": DAY.isoformat()})
    assert started.status_code == 201, started.text
    run = started.json()
    assert run["status"] == "done" and run["estimated_calls"] == estimate and run["api_calls"] <= estimate + 2
    assert run["started_by"].startswith("API token 'admin token'")
    job = admin.get(f"/api/v1/jobs/{run['job_id']}").json()  # a job, as a worker would run it
    assert (job["kind"], job["state"], job["run_id"]) == ("reconcile", "succeeded", run["id"])
    listed = viewer.get("/api/v1/reconciliations").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == run["id"]
    shown = viewer.get(f"/api/v1/reconciliations/{run['id']}", params={"category": "seats"}).json()
    assert [d["category"] for d in shown["items"]] == ["seats"]
    seats = shown["items"][0]
    adjust = next(x["id"] for x in seats["fixes"] if x["kind"] == "adjust")

    unknown = admin.post(f"/api/v1/reconciliations/{run['id']}/approve", json={"fix_ids": [987654]})
    assert unknown.status_code == 404 and unknown.json()["errors"] == [
        {"field": "fix_ids", "message": f"Reconciliation {run['id']} has no fix 987654"}
    ]
    empty = admin.post(f"/api/v1/reconciliations/{run['id']}/approve", json={"fix_ids": []})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "fix_ids"
    assert (
        viewer.post(f"/api/v1/reconciliations/{run['id']}/approve", json={"fix_ids": [adjust]}).status_code
        == 403
    )
    assert (
        admin.post("/api/v1/reconciliations/999999/apply", json={}).json()["errors"][0]["field"] == "run_id"
    )

    applied = admin.post(f"/api/v1/reconciliations/{run['id']}/apply", json={"fix_ids": [adjust]})
    assert applied.status_code == 200, applied.text
    assert applied.json()["report"]["applied"] == [adjust]
    exported = viewer.get(f"/api/v1/reconciliations/{run['id']}/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    mine = next(r for r in rows if r["fix"] == str(adjust))
    assert mine["status"] == "applied" and mine["approved_by"].startswith("API token 'admin token'")
    assert '"verb": "adjust"' in mine["written"] and mine["approved_at"] and mine["applied_at"]
    assert len({r["difference"] for r in rows}) == len(found(env, env_run(run)))

    trace = viewer.get(
        f"/api/v1/reconciliations/traces/{seats['subscription_id']}", params={"date": DAY.isoformat()}
    )
    assert trace.status_code == 200 and trace.json()["autotask_rows"] is None  # viewers: no Autotask read
    full = admin.get(
        f"/api/v1/reconciliations/traces/{seats['subscription_id']}", params={"date": DAY.isoformat()}
    ).json()
    assert full["autotask_rows"] and full["api_calls"] == 1
    assert full["parted_on"] == "2026-03-10"  # the person's +2; corrected from the 15th on
    assert (
        admin.get("/api/v1/reconciliations/traces/999999").json()["errors"][0]["field"] == "subscription_id"
    )


def env_run(data: dict[str, Any]) -> Any:
    class _Run:
        id = data["id"]

    return _Run()


def test_the_tab_for_admins_viewers_and_other_organizations(
    env: SyncEnv, hub: Hub, reconcile_app: str, make_org_user: Any
) -> None:
    changed_by_hand(env, hub)
    admin = make_org_user(slug="acme", role="admin")
    viewer = make_org_user(slug="acme", role="viewer")
    stranger = make_org_user(slug="other", role="admin")
    client, csrf = signed_in_client(reconcile_app, admin.email, admin.password)
    page = client.get("/psa-integration/reconcile")
    assert page.status_code == 200 and 'data-testid="no-reconciliations"' in page.text
    assert re.search(r"About \d+ Autotask API call", page.text)
    started = client.post("/psa-integration/reconcile", data={"csrf_token": csrf, "on_date": DAY.isoformat()})
    assert started.status_code == 303
    run_url = started.headers["location"]
    page = client.get(run_url)
    assert page.text.count('data-testid="difference"') == 13
    run_id = int(re.search(r"run=(\d+)", run_url).group(1))  # type: ignore[union-attr]
    seats = next(d for d in found(env, env_run({"id": run_id})) if d["category"] == "seats")
    accept = next(x["id"] for x in seats["fixes"] if x["kind"] == "accept")
    approved = client.post(
        f"/psa-integration/reconcile/{run_id}/approve",
        data={"csrf_token": csrf, f"decision-{seats['id']}": str(accept)},
    )
    assert approved.status_code == 303 and "Approved+1" in approved.headers["location"]
    applied = client.post(f"/psa-integration/reconcile/{run_id}/apply", data={"csrf_token": csrf})
    assert applied.status_code == 303 and "Applied+1" in applied.headers["location"]
    assert client.get(f"/psa-integration/reconcile/{run_id}/export.csv").status_code == 200

    v_client, v_csrf = signed_in_client(reconcile_app, viewer.email, viewer.password)
    v_page = v_client.get(run_url)
    assert v_page.status_code == 200 and 'data-testid="viewer-note"' in v_page.text
    assert 'data-testid="reconcile-now"' not in v_page.text and 'data-testid="choose-fix"' not in v_page.text
    refused = [
        v_client.post("/psa-integration/reconcile", data={"csrf_token": v_csrf}),
        v_client.post(f"/psa-integration/reconcile/{run_id}/approve", data={"csrf_token": v_csrf}),
        v_client.post(f"/psa-integration/reconcile/{run_id}/apply", data={"csrf_token": v_csrf}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    trace = v_client.get(f"/psa-integration/reconcile/trace/{seats['record'][1]}?run={run_id}")
    assert trace.status_code == 200 and 'data-testid="trace-note"' in trace.text

    o_client, o_csrf = signed_in_client(reconcile_app, stranger.email, stranger.password)
    assert o_client.get(f"/psa-integration/reconcile?run={run_id}").status_code == 404
    assert o_client.get(f"/psa-integration/reconcile/{run_id}/export.csv").status_code == 404
    assert (
        o_client.post(f"/psa-integration/reconcile/{run_id}/apply", data={"csrf_token": o_csrf}).status_code
        == 404
    )
    assert o_client.get(f"/psa-integration/reconcile/trace/{seats['record'][1]}").status_code in (
        404,
        409,
    )
    assert csrf_from(o_client.get("/psa-integration/reconcile").text)
