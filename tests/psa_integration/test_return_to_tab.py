"""A refused or failed preview/push returns the user to the tab they started from, not always Products."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.psa_integration.conftest import add_account_with_contact
from tests.support.web import signed_in_client


def _form_field(html: str, action: str, name: str) -> str:
    """The value of hidden field ``name`` in the (first) form posting to ``action``."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S)
    assert form, f"no form posting to {action}"
    found = re.search(rf'name="{name}" value="([^"]*)"', form.group(0))
    assert found, f"the {action} form has no {name} field"
    return found.group(1)


def test_a_refused_push_returns_to_the_tab_the_preview_was_made_from(
    psa_app: str, make_org_user: Any, set_up_org: Any, session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    org = set_up_org(admin.organization_id)
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)

    agreements = client.get("/psa-integration/agreements").text
    tab = _form_field(agreements, "/psa-integration/preview", "tab")
    assert tab == "agreements"
    preview = client.post("/psa-integration/preview", data={"csrf_token": csrf, "tab": tab}).text
    assert 'href="/psa-integration/agreements" data-testid="back-to-tab"' in preview
    digest = _form_field(preview, "/psa-integration/push", "digest")
    assert _form_field(preview, "/psa-integration/push", "tab") == "agreements"

    with session_factory() as s:  # the plan changes between preview and push: the push is refused
        add_account_with_contact(s, org.organization_id, "Late Arrival Dental", "LATE-1")
        s.commit()
    refused = client.post(
        "/psa-integration/push", data={"csrf_token": csrf, "digest": digest, "tab": "agreements"}
    )
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/psa-integration/agreements?error=")
    page = client.get(refused.headers["location"]).text
    assert "The plan changed since it was previewed" in page
    assert 'aria-current="page">Agreements' in page

    # A tab that does not exist is not echoed into the redirect: the user lands on Products.
    bogus = client.post(
        "/psa-integration/push", data={"csrf_token": csrf, "digest": "0" * 64, "tab": "//evil.example"}
    )
    assert bogus.headers["location"].startswith("/psa-integration/products?error=")


def test_a_failed_preview_links_back_to_the_tab_it_came_from(psa_app: str, make_org_user: Any) -> None:
    admin = make_org_user(slug="noconn", role="admin")  # no Autotask connector: the preview fails
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    page = client.post("/psa-integration/preview", data={"csrf_token": csrf, "tab": "changes"}).text
    assert 'data-testid="error"' in page
    assert 'href="/psa-integration/changes" data-testid="back-to-tab"' in page
    failed = client.post(
        "/psa-integration/push", data={"csrf_token": csrf, "digest": "0" * 64, "tab": "services"}
    )
    assert failed.status_code == 303
    assert failed.headers["location"].startswith("/psa-integration/services?error=")
