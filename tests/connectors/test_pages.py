"""Integrations pages over plain HTTP: roles, CSRF, tenancy, and the secret never in a page."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import closing
from typing import Any

import httpx
from sqlalchemy.orm import Session

from psabridge.config import Settings
from psabridge.connectors import service
from tests.support.web import csrf_from, signed_in_client


def _create_connector(db: Session, organization_id: int, emulator: Any, at_settings: Settings) -> int:
    creds = emulator.credentials
    connector = service.create_or_update_connector(
        db,
        organization_id,
        username=creds.username,
        secret=creds.secret,
        integration_code=creds.integration_code,
        app_settings=at_settings,
    )
    return connector.id


def test_admin_creates_the_connector_through_the_form(
    connector_app: str, make_org_user: Callable[..., Any], emulator: Any, db: Session
) -> None:
    admin = make_org_user("acme", "admin")
    client, _ = signed_in_client(connector_app, admin.email, admin.password)
    with closing(client):
        page = client.get("/integrations/autotask/new")
        assert page.status_code == 200
        assert f'value="{emulator.credentials.integration_code}"' in page.text  # prefilled server-wide
        zone = client.get("/integrations/autotask/zone", params={"username": emulator.credentials.username})
        assert "API URL" in zone.text and emulator.api_url in zone.text
        token = csrf_from(page.text)
        form = {
            "csrf_token": token,
            "username": emulator.credentials.username,
            "secret": "wrong-secret",
            "integration_code": emulator.credentials.integration_code,
            "environment_url": emulator.api_url,
        }
        refused = client.post("/integrations/autotask", data=form)
        assert refused.status_code == 400
        assert "refused the Password" in refused.text
        assert "wrong-secret" not in refused.text
        assert service.get_autotask_connector(db, admin.organization_id) is None

        form["secret"] = emulator.credentials.secret
        saved = client.post("/integrations/autotask", data=form)
        assert saved.status_code == 303, saved.text
        listing = client.get(saved.headers["location"])
        assert "datto | Autotask" in listing.text and "Needs settings" in listing.text
        cid = re.search(r'/integrations/autotask/(\d+)"', listing.text)
        assert cid is not None
        reopened = client.get(f"/integrations/autotask/{cid.group(1)}")
        assert reopened.status_code == 200
        assert "leave blank to keep" in reopened.text
        assert emulator.credentials.secret not in reopened.text
        assert "Manufacturers is disabled until Default Vendor Type is saved" in reopened.text


def test_a_viewer_sees_the_connector_read_only_and_cannot_change_it(
    connector_app: str, make_org_user: Callable[..., Any], emulator: Any, db: Session, at_settings: Settings
) -> None:
    viewer = make_org_user("acme", "viewer")
    cid = _create_connector(db, viewer.organization_id, emulator, at_settings)
    client, token = signed_in_client(connector_app, viewer.email, viewer.password)
    with closing(client):
        page = client.get(f"/integrations/autotask/{cid}")
        assert page.status_code == 200
        assert "shown read-only" in page.text
        assert 'data-testid="save-settings"' not in page.text
        assert 'data-testid="add-new"' not in client.get("/integrations").text
        for path in (
            f"/integrations/autotask/{cid}",
            f"/integrations/autotask/{cid}/settings",
            f"/integrations/autotask/{cid}/check-permissions",
            "/integrations/autotask",
        ):
            response = client.post(path, data={"csrf_token": token, "username": "x"})
            assert response.status_code == 403, path
        assert client.get("/integrations/autotask/new").status_code == 403


def test_a_cross_site_form_post_is_refused(
    connector_app: str, make_org_user: Callable[..., Any], emulator: Any, db: Session, at_settings: Settings
) -> None:
    admin = make_org_user("acme", "admin")
    cid = _create_connector(db, admin.organization_id, emulator, at_settings)
    client, token = signed_in_client(connector_app, admin.email, admin.password)
    with closing(client):
        evil = client.post(
            f"/integrations/autotask/{cid}/settings",
            data={"csrf_token": token, "allow_duplicated_services": "yes"},
            headers={"Origin": "https://evil.example"},
        )
        assert evil.status_code == 403
        tokenless = client.post(
            f"/integrations/autotask/{cid}/settings", data={"allow_duplicated_services": "yes"}
        )
        assert tokenless.status_code == 403
    db.expire_all()
    connector = service.get_autotask_connector(db, admin.organization_id)
    assert connector is not None and connector.settings_json == {}


def test_another_organization_cannot_open_the_connector(
    connector_app: str, make_org_user: Callable[..., Any], emulator: Any, db: Session, at_settings: Settings
) -> None:
    owner = make_org_user("acme", "admin")
    cid = _create_connector(db, owner.organization_id, emulator, at_settings)
    stranger = make_org_user("globex", "admin")
    client, token = signed_in_client(connector_app, stranger.email, stranger.password)
    with closing(client):
        assert client.get(f"/integrations/autotask/{cid}").status_code == 404
        assert "datto | Autotask" not in client.get("/integrations").text
        response = client.post(f"/integrations/autotask/{cid}/settings", data={"csrf_token": token})
        assert response.status_code == 404


def test_help_page_explains_the_api_user(connector_app: str, make_org_user: Callable[..., Any]) -> None:
    viewer = make_org_user("acme", "viewer")
    client, _ = signed_in_client(connector_app, viewer.email, viewer.password)
    with closing(client):
        page = client.get("/integrations/autotask/help")
    assert page.status_code == 200
    assert "API User (system) (API-only)" in page.text
    assert "Inventory → Products" in page.text
    assert httpx.get(f"{connector_app}/integrations", follow_redirects=False).status_code == 303


def test_the_connector_page_says_when_autotask_moved_the_tenant(
    connector_app: str,
    make_org_user: Callable[..., Any],
    emulator: Any,
    db: Session,
    at_settings: Settings,
) -> None:
    """Autotask moves tenants between zones (AUS/NZ in 2026): the old address answers 401, the client finds
    the new one, the connector saves it, and its page says when and from where the tenant moved."""
    admin = make_org_user("acme", "admin")
    cid = _create_connector(db, admin.organization_id, emulator, at_settings)
    connector = service.get_connector(db, admin.organization_id, cid)
    assert connector is not None
    emulator.control.move_zone()
    try:
        with service.build_client(connector, at_settings) as client:
            client.threshold_information()  # any call: 401 at the old address, re-discovered, retried
        db.expire_all()
        moved = service.get_connector(db, admin.organization_id, cid)
        assert moved is not None and moved.api_url.rstrip("/") == emulator.moved_api_url.rstrip("/")
        page_client, _ = signed_in_client(connector_app, admin.email, admin.password)
        with closing(page_client):
            page = page_client.get(f"/integrations/autotask/{cid}").text
        notice = re.search(r'data-testid="zone-moved">(.*?)</span>', page, re.S)
        assert notice, page
        assert "Autotask moved this tenant from" in notice.group(1)
        assert emulator.api_url.rstrip("/") in notice.group(1)
        assert emulator.moved_api_url.rstrip("/") in page
    finally:
        emulator.control.move_zone(moved=False)
