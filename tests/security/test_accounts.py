"""Sign-in, passwords and the Users tab (issue 10): NUL on the login form, a throttled and policed
password change, readable Users messages and a confirmed deactivation."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.auth.models import User
from psabridge.auth.password_policy import password_problem
from tests.conftest import OrgUser
from tests.support.web import csrf_from, signed_in_client


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-pw", "at least 12 characters"),
        ("aaaaaaaaaaaaaaaa", "one character repeated"),
        ("ada.lovelace-2026", "e-mail address's name"),
        ("Password2024!!", "too common"),
        ("qwertyuiop1234", "too common"),
        ("123456789012", "too common"),
    ],
)
def test_password_policy_refuses_weak_passwords(password: str, why: str) -> None:
    problem = password_problem(password, "Ada.Lovelace@example.test")
    assert problem is not None and why in problem


def test_password_policy_accepts_a_long_unrelated_password() -> None:
    assert password_problem("correct horse battery staple", "ada@example.test") is None


def test_nul_on_the_login_form_is_a_form_error(live_app: str) -> None:
    with httpx.Client(base_url=live_app) as client:
        token = csrf_from(client.get("/login").text)
        answer = client.post(
            "/login", data={"email": "admin\x00@acme.test", "password": "x\x00y", "csrf_token": token}
        )
        assert answer.status_code == 400
        assert "control characters" in answer.text


def test_changing_the_password_is_throttled_like_sign_in(
    live_app: str, make_org_user: Callable[..., OrgUser]
) -> None:
    user = make_org_user("acme", "viewer")
    client, token = signed_in_client(live_app, user.email, user.password)
    new = {"new_password": "a-fresh-passphrase-42", "confirm_password": "a-fresh-passphrase-42"}
    with closing(client):
        for _ in range(5):
            wrong = client.post(
                "/me/password", data={"current_password": "guess", **new, "csrf_token": token}
            )
            assert wrong.status_code == 400
        blocked = client.post(
            "/me/password", data={"current_password": user.password, **new, "csrf_token": token}
        )
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        assert "Too many wrong passwords" in blocked.text


def test_users_tab_messages_name_the_field_in_words_and_keep_their_case(
    live_app: str, make_org_user: Callable[..., OrgUser]
) -> None:
    admin = make_org_user("acme", "admin")
    client, token = signed_in_client(live_app, admin.email, admin.password)
    with closing(client):
        weak = client.post(
            "/users",
            data={"email": "New.Person@acme.test", "password": "aaaaaaaaaaaaaa", "csrf_token": token},
        )
        assert weak.status_code == 400
        assert "Initial password: must not be one character repeated." in weak.text
        assert "(password)" not in weak.text
        me = client.post(f"/users/{_id(client, admin.email)}/deactivate", data={"csrf_token": token})
        assert f"Status: {admin.email} is the organization" in me.text and "(is_active)" not in me.text


def _id(client: httpx.Client, email: str) -> int:
    import re

    page = client.get("/users").text
    match = re.search(rf'data-email="{re.escape(email)}".*?/users/(\d+)/role', page, re.S)
    assert match
    return int(match.group(1))


def test_deactivating_a_user_asks_for_confirmation_first(
    live_app: str, make_org_user: Callable[..., OrgUser], session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user("acme", "admin")
    colleague = make_org_user("acme", "viewer")
    client, token = signed_in_client(live_app, admin.email, admin.password)
    with closing(client):
        target = _id(client, colleague.email)
        asked = client.post(f"/users/{target}/deactivate", data={"csrf_token": token})
        assert asked.status_code == 200 and "Yes, deactivate" in asked.text
        with session_factory() as db:
            assert db.scalar(select(User.is_active).where(User.id == target)) is True
        done = client.post(f"/users/{target}/deactivate", data={"confirm": "yes", "csrf_token": token})
        assert done.status_code == 303
    with session_factory() as db:
        assert db.scalar(select(User.is_active).where(User.id == target)) is False
