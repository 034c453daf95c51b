"""Billing Hub pages on a laptop screen (1280x720): dates on one line, money with two decimals, and no
browser console errors (a missing favicon used to log a 404 on every page)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from psabridge.hub import models as hub
from tests.conftest import OrgUser
from tests.support.browser import login

pytestmark = pytest.mark.browser

#: How many rendered lines a table cell's text takes (1 when it does not wrap).
LINES_OF = """(el) => { const r = document.createRange(); r.selectNodeContents(el);
  const tops = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))); return tops.size; }"""


def test_billing_contracts_are_readable_on_a_laptop_screen(
    live_app: str,
    browser_page: Any,
    shot: Callable[[str], Any],
    make_org_user: Callable[..., OrgUser],
    session_factory: sessionmaker[Session],
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    with session_factory() as s:
        account = hub.Account(
            organization_id=admin.organization_id,
            external_id="A-1",
            name="Brightpath Construction & Co. of the Greater Metropolitan Area",
        )
        s.add(account)
        s.flush()
        s.add(
            hub.BillingContract(
                organization_id=admin.organization_id,
                external_id="CUST-00024-K1-WITH-A-LONG-NUMBER",
                account_id=account.id,
                name="Managed Services Monthly with a long descriptive name",
                billing_frequency="monthly",
                start_date=date(2023, 7, 1),
                end_date=date(2026, 6, 30),
                setup_fee=Decimal("1250"),
            )
        )
        s.commit()

    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 720})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, live_app, admin.email, admin.password)
    page.goto(f"{live_app}/billing/contracts")
    shot("contracts-1280")

    row = page.locator("[data-testid=contracts-table] tbody tr").first
    assert row.locator("[data-testid=setup-fee]").inner_text() == "1,250.00"
    external_id = row.locator(".mono").first
    assert external_id.evaluate(LINES_OF) == 1, "the contract's external id breaks at a hyphen"
    for cell in row.locator("td.date").all():
        assert cell.evaluate(LINES_OF) == 1, f"date cell wraps: {cell.inner_text()!r}"
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    page.goto(f"{live_app}/billing/accounts/{account.id}")
    for cell in page.locator("td.date").all():
        assert cell.evaluate(LINES_OF) == 1
    assert errors == [], errors
