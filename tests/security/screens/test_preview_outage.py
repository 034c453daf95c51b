"""Autotask down while previewing (issue 10): the page says what to check, not an exception's class."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from psabridge.connectors.models import Connector
from tests.support.servers import free_port
from tests.support.web import signed_in_client


def test_preview_with_autotask_unreachable_says_what_to_check(
    psa_app: str, make_org_user: Any, set_up_org: Any, session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    set_up_org(admin.organization_id)
    with session_factory() as s:
        dead = f"http://127.0.0.1:{free_port()}/atservicesrest/"
        s.execute(
            update(Connector).where(Connector.organization_id == admin.organization_id).values(api_url=dead)
        )
        s.commit()
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    with closing(client):
        page = client.post("/psa-integration/preview", data={"csrf_token": csrf}).text
    assert "could not be reached" in page and "Check the network" in page
    assert "ConnectError" not in page
