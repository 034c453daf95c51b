"""HTTP-level helpers for Admin Hub tests: sign in with a plain httpx client, read CSRF tokens."""

from __future__ import annotations

import re

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def signed_in_client(base_url: str, email: str, password: str) -> tuple[httpx.Client, str]:
    """An httpx client signed in through the login form, and its session's CSRF token."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=20)
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text
    home = client.get("/")
    assert home.status_code == 200
    return client, csrf_from(home.text)
