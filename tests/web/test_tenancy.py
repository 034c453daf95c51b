"""One organization's users never see or touch another organization's pages, records or users."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.auth.models import User
from psabridge.hub.models import Account, BillingContract
from tests.conftest import OrgUser
from tests.support.browser import login
from tests.support.web import signed_in_client


def _add_accounts(factory: sessionmaker[Session], org_id: int, prefix: str, count: int) -> list[int]:
    with factory() as db:
        accounts = [
            Account(
                organization_id=org_id, external_id=f"{prefix}-{i:03d}", name=f"{prefix} Customer {i:03d}"
            )
            for i in range(count)
        ]
        db.add_all(accounts)
        db.flush()
        db.add(
            BillingContract(
                organization_id=org_id,
                external_id=f"{prefix}-K1",
                account_id=accounts[0].id,
                name=f"{prefix} Managed Services",
                contract_type="recurring",
                billing_frequency="monthly",
                start_date=date(2026, 1, 1),
                status="active",
            )
        )
        db.commit()
        return [a.id for a in accounts]


def test_billing_pages_and_users_are_scoped_to_the_organization(
    live_app: str, make_org_user: Callable[..., OrgUser], session_factory: sessionmaker[Session]
) -> None:
    alice = make_org_user("acme", "admin")
    bob = make_org_user("globex", "admin")
    _add_accounts(session_factory, alice.organization_id, "Acme", 30)
    globex_ids = _add_accounts(session_factory, bob.organization_id, "Globex", 2)
    with session_factory() as db:
        bob_id = db.scalar(select(User.id).where(User.email == bob.email))

    client, token = signed_in_client(live_app, alice.email, alice.password)
    with closing(client):
        first = client.get("/billing/accounts").text
        assert "30 in total" in first and "page 1 of 2" in first
        assert "Acme Customer 000" in first and "Acme Customer 025" not in first
        second = client.get("/billing/accounts?page=2").text
        assert "Acme Customer 025" in second
        contracts = client.get("/billing/contracts").text
        assert "Acme Managed Services" in contracts and "Globex" not in contracts
        assert all("Globex" not in html for html in (first, second))

        # Another organization's record or user by id: 404, as if it did not exist.
        assert client.get(f"/billing/accounts/{globex_ids[0]}").status_code == 404
        assert client.get(f"/api/v1/accounts/{globex_ids[0]}").status_code == 404
        users_page = client.get("/users").text
        assert bob.email not in users_page
        for action, data in (
            (f"/users/{bob_id}/role", {"role": "viewer"}),
            (f"/users/{bob_id}/deactivate", {}),
        ):
            assert client.post(action, data={**data, "csrf_token": token}).status_code == 404
    with session_factory() as db:
        stored = db.get(User, bob_id)
        assert stored is not None and stored.role == "admin" and stored.is_active


@pytest.mark.browser
def test_other_organization_is_invisible_in_the_browser(
    live_app: str,
    browser_page: Any,
    shot: Callable[[str], Any],
    make_org_user: Callable[..., OrgUser],
    session_factory: sessionmaker[Session],
) -> None:
    viewer = make_org_user("acme", "viewer")
    other = make_org_user("globex", "admin")
    acme_ids = _add_accounts(session_factory, viewer.organization_id, "Acme", 3)
    globex_ids = _add_accounts(session_factory, other.organization_id, "Globex", 3)
    page = browser_page
    login(page, live_app, viewer.email, viewer.password)
    page.locator("nav.tabs").get_by_role("link", name="Billing Hub").click()
    table = page.get_by_test_id("accounts-table")
    expect(table).to_contain_text("Acme Customer 002")
    expect(table).not_to_contain_text("Globex")
    shot("own-accounts")
    page.get_by_role("link", name="Acme Customer 000").click()
    expect(page).to_have_url(f"{live_app}/billing/accounts/{acme_ids[0]}")
    expect(page.locator("h1")).to_contain_text("Acme Customer 000")
    expect(page.get_by_text("Acme Managed Services")).to_be_visible()
    shot("own-account-detail")
    page.goto(f"{live_app}/billing/accounts/{globex_ids[0]}")
    expect(page.get_by_test_id("error-title")).to_have_text("Not found")
    expect(page.locator("body")).not_to_contain_text("Globex")
    shot("other-org-account-404")
