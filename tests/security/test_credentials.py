"""Autotask credentials with characters an HTTP header cannot carry (issue 10): a clear error naming the
field, from the API and the form, and not one character of the secret in the logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.connectors.conftest import Org
from tests.support.web import signed_in_client

SECRET = "s\u00e9cret-\u20ac-42"


def test_non_ascii_credentials_are_refused_naming_the_field(
    connector_app: str, make_org: Callable[[str], Org], emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    org = make_org("acme")
    caplog.set_level(logging.DEBUG)
    with httpx.Client(
        base_url=f"{connector_app}/api/v1", headers={"Authorization": f"Bearer {org.admin_token}"}, timeout=60
    ) as api:
        good = emulator.credentials
        for field, body in (
            (
                "secret",
                {"username": good.username, "secret": SECRET, "integration_code": good.integration_code},
            ),
            ("username", {"username": "j\u00fcrgen@msp.example", "secret": "x", "integration_code": "CODE"}),
            ("integration_code", {"username": good.username, "secret": "x", "integration_code": "C\u00d6DE"}),
        ):
            answer = api.post("/connectors", json=body)
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["errors"][0]["field"] == field
            assert "ASCII" in answer.json()["detail"]
            assert "\u00e9" not in answer.text and "\u20ac" not in answer.text
    assert "\u00e9" not in caplog.text and "\u20ac" not in caplog.text


def test_the_form_names_the_password_field(
    connector_app: str, make_org_user: Callable[..., Any], emulator: Any
) -> None:
    admin = make_org_user("acme", "admin")
    client, token = signed_in_client(connector_app, admin.email, admin.password)
    with closing(client):
        answer = client.post(
            "/integrations/autotask",
            data={
                "csrf_token": token,
                "username": emulator.credentials.username,
                "secret": SECRET,
                "integration_code": emulator.credentials.integration_code,
                "environment_url": emulator.api_url,
            },
        )
        assert answer.status_code == 400, answer.text
        assert "The Password may contain only ASCII" in answer.text
        assert SECRET not in answer.text
