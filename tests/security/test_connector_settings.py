"""Connector settings a new user trips over (issue 10): a Default Vendor Type change names the
Manufacturers it drops, and "Still to choose" leaves out what is already preselected."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from typing import Any

from sqlalchemy.orm import Session

from psabridge.config import Settings
from psabridge.connectors import service
from tests.connectors.conftest import Org
from tests.connectors.test_service import MICROSOFT, _create, _full_settings, _value
from tests.support.web import signed_in_client


def test_changing_the_vendor_type_names_the_manufacturers_it_drops(
    db: Session, make_org: Callable[[str], Org], emulator: Any, at_settings: Settings
) -> None:
    org = make_org("acme")
    connector = _create(db, org, emulator, at_settings)
    lists = service.load_option_lists(db, connector, at_settings)
    settings = _full_settings(lists)
    service.save_settings(db, connector, settings, app_settings=at_settings)
    with_microsoft = settings.model_copy(update={"manufacturers": {"Microsoft": MICROSOFT}})
    assert service.save_settings(db, connector, with_microsoft, app_settings=at_settings) == []

    # The form cannot send Manufacturers with a vendor type change: nothing may vanish silently.
    partner = _value(lists, "company_types", "Partner")
    dropped = service.save_settings(
        db, connector, settings.model_copy(update={"default_vendor_type": partner}), app_settings=at_settings
    )
    assert dropped == ["Microsoft"]
    # Back to Vendor: a mapping that still fits would be kept (none is left to keep here).
    assert service.connector_settings(connector).manufacturers == {}


def test_still_to_choose_lists_only_what_is_not_preselected(
    connector_app: str, make_org_user: Callable[..., Any], emulator: Any, db: Session, at_settings: Settings
) -> None:
    admin = make_org_user("acme", "admin")
    connector = service.create_or_update_connector(
        db,
        admin.organization_id,
        username=emulator.credentials.username,
        secret=emulator.credentials.secret,
        integration_code=emulator.credentials.integration_code,
        app_settings=at_settings,
    )
    db.commit()
    client, _ = signed_in_client(connector_app, admin.email, admin.password)
    with closing(client):
        page = client.get(f"/integrations/autotask/{connector.id}").text
    start = page.index('data-testid="setup-missing"')
    banner = page[start : page.index("</p>", start)]
    still = banner.split("Preselected")[0]
    assert "Still to choose" in still
    assert "Default Company Type" not in still and "Default Contract Type" not in still
    assert "Default Company Type" in banner  # named as preselected instead
