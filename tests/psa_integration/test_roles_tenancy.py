"""Who may do what on the PSA Integration screen: viewers look but never push or link; one
organization never sees or touches another's rows, runs or links."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from psabridge.sync import service
from psabridge.sync.models import SyncLink
from tests.psa_integration.conftest import SAME_NAME_COMPANY, autotask_writes
from tests.support.web import signed_in_client


def test_viewer_can_look_but_not_preview_push_or_link(
    psa_app: str, make_org_user: Any, set_up_org: Any, emulator: Any, session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    viewer = make_org_user(slug="acme", role="viewer")
    org = set_up_org(admin.organization_id)
    admin_client, admin_csrf = signed_in_client(psa_app, admin.email, admin.password)
    assert admin_client.post("/psa-integration/preview", data={"csrf_token": admin_csrf}).status_code == 200
    writes_before = autotask_writes(emulator)

    client, csrf = signed_in_client(psa_app, viewer.email, viewer.password)
    page = client.get("/psa-integration/customers")
    assert page.status_code == 200
    assert SAME_NAME_COMPANY in page.text and "Needs link" in page.text  # viewers see statuses
    assert 'data-testid="viewer-note"' in page.text
    assert "preview-plan" not in page.text and "confirm-link" not in page.text and "add-new" not in page.text
    assert client.get("/psa-integration/runs").status_code == 200

    refused = [
        client.post("/psa-integration/preview", data={"csrf_token": csrf}),
        client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": "x"}),
        client.post(
            "/psa-integration/link",
            data={
                "csrf_token": csrf,
                "record_type": "account",
                "hub_id": org.contoso_account_id,
                "autotask_id": 180,
            },
        ),
        client.post(
            "/psa-integration/add-new",
            data={"csrf_token": csrf, "record_type": "account", "hub_id": org.contoso_account_id},
        ),
        client.post(
            "/psa-integration/bulk",
            data={"csrf_token": csrf, "action": "add_new", "selected": f"account:{org.contoso_account_id}"},
        ),
        client.get(
            "/psa-integration/search/results",
            params={"record_type": "account", "hub_id": org.contoso_account_id, "q": "Contoso"},
        ),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert autotask_writes(emulator) == writes_before
    with session_factory() as s:
        statuses = {
            (r["record_type"], r["hub_id"]): r for r in service.record_statuses(s, org.organization_id)
        }
    contoso = statuses[("account", org.contoso_account_id)]
    assert (
        contoso["status"] == "needs_link" and contoso["autotask_id"] is None and contoso["decision"] == "auto"
    )


def test_admin_push_without_csrf_is_refused(
    psa_app: str, make_org_user: Any, set_up_org: Any, emulator: Any
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    set_up_org(admin.organization_id)
    writes_before = autotask_writes(emulator)  # (the connector's permission probes count as writes)
    client, _csrf = signed_in_client(psa_app, admin.email, admin.password)
    response = client.post("/psa-integration/push", data={"digest": "x"})
    assert response.status_code == 403
    assert autotask_writes(emulator) == writes_before
    assert not [c for c in emulator.control.records("Companies") if c.get("companyNumber")]


def test_organizations_do_not_see_each_other(
    psa_app: str, make_org_user: Any, set_up_org: Any, session_factory: sessionmaker[Session]
) -> None:
    admin_a = make_org_user(slug="acme", role="admin")
    admin_b = make_org_user(slug="globex", role="admin")
    org_a = set_up_org(admin_a.organization_id)
    client_a, csrf_a = signed_in_client(psa_app, admin_a.email, admin_a.password)
    preview = client_a.post("/psa-integration/preview", data={"csrf_token": csrf_a})
    assert preview.status_code == 200
    with session_factory() as s:
        run_a = service.list_runs(s, org_a.organization_id)[0].id

    client_b, csrf_b = signed_in_client(psa_app, admin_b.email, admin_b.password)
    page = client_b.get("/psa-integration/customers")
    assert page.status_code == 200
    assert SAME_NAME_COMPANY not in page.text
    assert 'data-testid="psa-row"' not in page.text
    assert client_b.get(f"/psa-integration/runs/{run_a}").status_code == 404
    assert f"Run {run_a}<" not in client_b.get("/psa-integration/runs").text
    # B cannot decide links for A's records, nor search Autotask with A's connector through them.
    link = client_b.post(
        "/psa-integration/link",
        data={
            "csrf_token": csrf_b,
            "record_type": "account",
            "hub_id": org_a.contoso_account_id,
            "autotask_id": 180,
        },
    )
    add_new = client_b.post(
        "/psa-integration/add-new",
        data={"csrf_token": csrf_b, "record_type": "account", "hub_id": org_a.contoso_account_id},
    )
    search = client_b.get(
        "/psa-integration/search/results",
        params={"record_type": "account", "hub_id": org_a.contoso_account_id, "q": "Contoso"},
    )
    assert (link.status_code, add_new.status_code, search.status_code) == (404, 404, 404)
    with session_factory() as s:
        links = (
            s.query(SyncLink)
            .filter(SyncLink.hub_id == org_a.contoso_account_id, SyncLink.record_type == "account")
            .all()
        )
        assert [(lk.organization_id, lk.decision, lk.autotask_id) for lk in links] == [
            (org_a.organization_id, "auto", None)
        ]
