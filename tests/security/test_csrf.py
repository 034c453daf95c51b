"""CSRF: only API-token requests without a session cookie skip the token check (issue 10).

Behind a reverse proxy that forwards Basic auth, every request of the browser carries an ``Authorization``
header; a page of another port of the same site could then add an admin user with the victim's cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.auth.models import User
from tests.conftest import OrgUser
from tests.support.web import signed_in_client

BASIC = {"Authorization": "Basic cHJveHk6cHJveHktcGFzc3dvcmQ="}
NEW_USER = {"email": "planted@acme.test", "password": "a-long-enough-passphrase", "role": "admin"}


def _exists(session_factory: sessionmaker[Session], email: str) -> bool:
    with session_factory() as db:
        return db.scalar(select(User.id).where(User.email == email)) is not None


def test_cookie_request_with_basic_auth_header_still_needs_the_csrf_token(
    live_app: str, make_org_user: Callable[..., OrgUser], session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user("acme", "admin")
    client, _token = signed_in_client(live_app, admin.email, admin.password)
    with closing(client):
        page = client.post("/users", data=NEW_USER, headers=BASIC)
        assert page.status_code == 403
        api = client.post("/api/v1/accounts", json={"name": "Planted", "phone": "+1 555 0100"}, headers=BASIC)
        assert api.status_code == 403
        # A Bearer header does not excuse a request that also carries the session cookie.
        bearer = client.post("/users", data=NEW_USER, headers={"Authorization": "Bearer whatever"})
        assert bearer.status_code == 403
    assert not _exists(session_factory, NEW_USER["email"])
