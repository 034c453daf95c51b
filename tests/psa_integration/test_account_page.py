"""Billing Hub account page: the account's contracts with their subscriptions (seats, status), and how the
account stands in Autotask, linking to its row on the PSA Integration Customers tab."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.hub import models as hub
from tests.psa_integration.conftest import SAME_NAME_COMPANY
from tests.support.web import signed_in_client


def _sync_cell(page: str) -> str:
    found = re.search(r'<dd data-testid="account-sync">(.*?)</dd>', page, re.S)
    assert found, "the account page shows no Autotask sync status"
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(found.group(1))).split())


def test_account_page_lists_subscriptions_and_the_autotask_sync_status(
    psa_app: str, make_org_user: Any, set_up_org: Any, session_factory: sessionmaker[Session]
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    org = set_up_org(admin.organization_id, customers=30)  # more customer rows than one tab page holds
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    with session_factory() as s:
        account = s.scalars(
            select(hub.Account)
            .where(hub.Account.organization_id == org.organization_id)
            .order_by(hub.Account.name.desc(), hub.Account.id.desc())
        ).first()
        assert account is not None
        subs = s.execute(
            select(hub.Subscription, hub.Product.name)
            .join(hub.Product, hub.Product.id == hub.Subscription.product_id)
            .join(hub.BillingContract, hub.BillingContract.id == hub.Subscription.billing_contract_id)
            .where(hub.BillingContract.account_id == account.id)
        ).all()
    assert subs, "the sample account should hold subscriptions"

    page = html.unescape(client.get(f"/billing/accounts/{account.id}").text)
    rows = re.findall(r'<tr data-testid="account-subscription">(.*?)</tr>', page, re.S)
    assert len(rows) == len(subs)
    for sub, product_name in subs:
        assert any(
            f"<td>{product_name}</td>" in r
            and f'data-testid="seats">{sub.quantity}</td>' in r
            and f">{sub.status}</span>" in r
            for r in rows
        ), (product_name, sub.quantity, sub.status)
    assert _sync_cell(page).startswith("Pending Not planned yet")

    # The link opens the Customers tab on the page that holds this account's row.
    link = re.search(r'href="([^"]+)" data-testid="account-sync-link"', page)
    assert link
    tab = client.get(link.group(1).split("#")[0]).text
    assert f'id="psa-row-account-{account.id}"' in tab
    assert link.group(1).endswith(f"#psa-row-account-{account.id}")
    assert "Page 2 of" in tab

    # After a preview the page shows what the Customers tab shows: Contoso Ltd needs a link.
    client.post("/psa-integration/preview", data={"csrf_token": csrf})
    contoso = html.unescape(client.get(f"/billing/accounts/{org.contoso_account_id}").text)
    assert _sync_cell(contoso).startswith("Needs link"), _sync_cell(contoso)
    assert SAME_NAME_COMPANY in contoso
