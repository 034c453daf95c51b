"""What a foreign site, a stolen database copy or a curious viewer can NOT do to the Admin Hub."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from psabridge.auth.models import User, WebSession
from psabridge.auth.sessions import hash_token
from psabridge.db import utcnow
from tests.conftest import OrgUser
from tests.support.web import csrf_from, signed_in_client

NEW_USER = {"email": "intruder@acme.test", "password": "a-long-enough-passphrase", "role": "admin"}


def _user_exists(session_factory: sessionmaker[Session], email: str) -> bool:
    with session_factory() as db:
        return db.scalar(select(User.id).where(User.email == email)) is not None


def test_cross_site_posts_are_refused(
    live_app: str, make_org_user: Callable[..., OrgUser], session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user("acme", "admin")
    client, token = signed_in_client(live_app, admin.email, admin.password)
    with closing(client):
        # No token at all (what a forged form on another site sends).
        refused = client.post("/users", data=NEW_USER)
        assert refused.status_code == 403
        assert "security token" in refused.text
        # A wrong token.
        assert client.post("/users", data={**NEW_USER, "csrf_token": "x" * 43}).status_code == 403
        # The right token but sent from another origin (or an opaque "null" origin).
        for origin in ("http://evil.example", "null"):
            foreign = client.post(
                "/users", data={**NEW_USER, "csrf_token": token}, headers={"Origin": origin}
            )
            assert foreign.status_code == 403
            assert "another site" in foreign.text
        foreign_referer = client.post(
            "/users", data={**NEW_USER, "csrf_token": token}, headers={"Referer": "http://evil.example/x"}
        )
        assert foreign_referer.status_code == 403
        assert not _user_exists(session_factory, NEW_USER["email"])
        # Logging out is a change too: a foreign page cannot log the user out.
        assert client.post("/logout").status_code == 403
        assert client.get("/").status_code == 200

        # The same request from our own page goes through.
        ok = client.post("/users", data={**NEW_USER, "csrf_token": token}, headers={"Origin": live_app})
        assert ok.status_code == 303
        assert _user_exists(session_factory, NEW_USER["email"])


def test_login_form_is_csrf_protected_too(live_app: str, make_org_user: Callable[..., OrgUser]) -> None:
    """A foreign site must not sign a victim's browser into the attacker's account (login CSRF)."""
    admin = make_org_user("acme", "admin")
    with httpx.Client(base_url=live_app) as client:
        response = client.post("/login", data={"email": admin.email, "password": admin.password})
        assert response.status_code == 403
        assert "psab_session" not in response.headers.get("set-cookie", "")


def test_api_accepts_the_session_cookie_but_changes_need_the_csrf_header(
    live_app: str, make_org_user: Callable[..., OrgUser]
) -> None:
    admin = make_org_user("acme", "admin")
    client, token = signed_in_client(live_app, admin.email, admin.password)
    with closing(client):
        me = client.get("/api/v1/organizations/me")
        assert me.status_code == 200
        assert me.json()["slug"] == "acme"
        body = {"name": "Contoso", "phone": "+1 555 0100", "external_id": "ACC-1"}
        assert client.post("/api/v1/accounts", json=body).status_code == 403
        created = client.post("/api/v1/accounts", json=body, headers={"X-CSRF-Token": token})
        assert created.status_code == 201, created.text
    with httpx.Client(base_url=live_app) as anonymous:
        assert anonymous.get("/api/v1/organizations/me").status_code == 401


def test_viewer_gets_403_on_every_admin_action(
    live_app: str, make_org_user: Callable[..., OrgUser], session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user("acme", "admin")
    viewer = make_org_user("acme", "viewer")
    client, token = signed_in_client(live_app, viewer.email, viewer.password)
    with closing(client):
        page = client.get("/users")
        assert page.status_code == 200
        assert "Add user" not in page.text
        assert "Only admins can add users" in page.text
        with session_factory() as db:
            admin_id = db.scalar(select(User.id).where(User.email == admin.email))
        attempts = [
            ("/users", NEW_USER),
            (f"/users/{admin_id}/role", {"role": "viewer"}),
            (f"/users/{admin_id}/deactivate", {}),
            (f"/users/{admin_id}/activate", {}),
        ]
        for path, data in attempts:
            response = client.post(path, data={**data, "csrf_token": token})
            assert response.status_code == 403, path
            assert "Admins only" in response.text
        body = {"name": "Contoso", "phone": "+1 555 0100"}
        assert client.post("/api/v1/accounts", json=body, headers={"X-CSRF-Token": token}).status_code == 403
    with session_factory() as db:
        stored = db.scalar(select(User).where(User.email == admin.email))
        assert stored is not None and stored.role == "admin" and stored.is_active
    assert not _user_exists(session_factory, NEW_USER["email"])


def test_security_headers_and_cookie_flags(live_app: str, make_org_user: Callable[..., OrgUser]) -> None:
    admin = make_org_user("acme", "admin")
    with httpx.Client(base_url=live_app) as client:
        login_page = client.get("/login")
        headers = login_page.headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert "<script>" not in login_page.text  # no inline scripts: the CSP would block them
        response = client.post(
            "/login",
            data={"email": admin.email, "password": admin.password, "csrf_token": csrf_from(login_page.text)},
        )
        assert response.status_code == 303
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("psab_session="))
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
        assert "Secure" not in cookie  # plain http on loopback; see the secure_cookies test below


def test_secure_cookie_when_configured(
    settings: Any, make_org_user: Callable[..., OrgUser], monkeypatch: pytest.MonkeyPatch
) -> None:
    from psabridge.web.app import create_app
    from tests.support.servers import serve_in_thread

    admin = make_org_user("acme", "admin")
    app = create_app(settings.model_copy(update={"secure_cookies": True}), run_migrations=False)
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url) as client:
        token = csrf_from(client.get("/login").text)
        response = client.post(
            "/login", data={"email": admin.email, "password": admin.password, "csrf_token": token}
        )
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("psab_session="))
        assert "Secure" in cookie
    app.state.engine.dispose()


def test_expired_session_asks_for_login_again(
    live_app: str, make_org_user: Callable[..., OrgUser], session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user("acme", "admin")
    client, _ = signed_in_client(live_app, admin.email, admin.password)
    with closing(client):
        with session_factory() as db:
            db.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
            db.commit()
        response = client.get("/billing/contracts")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/billing/contracts"


def test_login_never_redirects_off_site(live_app: str, make_org_user: Callable[..., OrgUser]) -> None:
    admin = make_org_user("acme", "admin")
    with httpx.Client(base_url=live_app) as client:
        token = csrf_from(client.get("/login").text)
        data = {
            "email": admin.email,
            "password": admin.password,
            "csrf_token": token,
            "next": "//evil.example/",
        }
        assert client.post("/login", data=data).headers["location"] == "/"


def test_passwords_and_session_tokens_are_not_stored_in_clear(
    live_app: str, make_org_user: Callable[..., OrgUser], session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user("acme", "admin")
    client, _ = signed_in_client(live_app, admin.email, admin.password)
    with closing(client), session_factory() as db:
        stored_hash = db.execute(
            text("SELECT password_hash FROM users WHERE email = :e"), {"e": admin.email}
        ).scalar_one()
        assert stored_hash.startswith("$argon2id$")
        assert admin.password not in stored_hash
        cookie_token = client.cookies["psab_session"]
        session_ids = db.execute(text("SELECT id FROM web_sessions")).scalars().all()
        assert session_ids == [hash_token(cookie_token)]
        assert cookie_token not in session_ids
        # Nothing secret is rendered on the pages either.
        for path in ("/", "/users"):
            html = client.get(path).text
            assert admin.password not in html and stored_hash not in html and cookie_token not in html


def test_password_guessing_is_throttled(live_app: str, make_org_user: Callable[..., OrgUser]) -> None:
    admin = make_org_user("acme", "admin")
    with httpx.Client(base_url=live_app) as client:
        token = csrf_from(client.get("/login").text)
        for _ in range(5):
            wrong = client.post(
                "/login", data={"email": admin.email, "password": "guess", "csrf_token": token}
            )
            assert wrong.status_code == 400
        # Even the right password is refused now, with a clear message and Retry-After.
        blocked = client.post(
            "/login", data={"email": admin.email, "password": admin.password, "csrf_token": token}
        )
        assert blocked.status_code == 429
        assert "Too many failed sign-ins" in blocked.text
        assert int(blocked.headers["retry-after"]) > 0
        assert "psab_session" not in blocked.headers.get("set-cookie", "")


def test_throttle_window_slides() -> None:
    from psabridge.auth.throttle import LoginThrottle

    now = [1000.0]
    throttle = LoginThrottle(max_failures=3, max_failures_per_ip=10, window_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("a@x.test", "1.2.3.4") == 0
        throttle.failed("a@x.test", "1.2.3.4")
    assert 0 < throttle.retry_after("a@x.test", "1.2.3.4") <= 61
    assert throttle.retry_after("b@x.test", "1.2.3.4") == 0  # other users from the same office still may
    now[0] += 61
    assert throttle.retry_after("a@x.test", "1.2.3.4") == 0
    throttle.failed("a@x.test", "1.2.3.4")
    throttle.succeeded("a@x.test")
    assert throttle.retry_after("a@x.test", "1.2.3.4") == 0


def test_htmx_style_header_token_is_accepted_for_forms(
    live_app: str, make_org_user: Callable[..., OrgUser], session_factory: sessionmaker[Session]
) -> None:
    """htmx sends the token from <body hx-headers> as X-CSRF-Token instead of a form field."""
    admin = make_org_user("acme", "admin")
    client, token = signed_in_client(live_app, admin.email, admin.password)
    with closing(client):
        home = client.get("/").text
        assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in home
        wrong = client.post("/users", data=NEW_USER, headers={"X-CSRF-Token": "nope", "HX-Request": "true"})
        assert wrong.status_code == 403
        ok = client.post("/users", data=NEW_USER, headers={"X-CSRF-Token": token, "HX-Request": "true"})
        assert ok.status_code == 303
    assert _user_exists(session_factory, NEW_USER["email"])


def test_https_gets_hsts_and_secure_cookies(settings: Any, make_org_user: Callable[..., OrgUser]) -> None:
    from fastapi.testclient import TestClient

    from psabridge.web.app import create_app

    admin = make_org_user("acme", "admin")
    app = create_app(settings, run_migrations=False)
    with TestClient(app, base_url="https://hub.example") as client:
        page = client.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        response = client.post(
            "/login",
            data={"email": admin.email, "password": admin.password, "csrf_token": csrf_from(page.text)},
            headers={"Origin": "https://hub.example"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("psab_session="))
        assert "Secure" in cookie
    app.state.engine.dispose()
