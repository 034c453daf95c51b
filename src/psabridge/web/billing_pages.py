"""Billing Hub tab: read-only, paginated views of the organization's accounts and billing contracts.

Every query is filtered by the signed-in user's organization; a record of another organization is a
404, exactly like a record that does not exist, so ids reveal nothing across tenants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from psabridge.hub.models import Account, BillingContract, Contact, Product, Subscription
from psabridge.psa_integration.rows import NOT_PLANNED, STATUS_LABELS
from psabridge.sync.models import SyncLink
from psabridge.web.auth import CurrentUser
from psabridge.web.deps import DbSession, PathId
from psabridge.web.templating import templates

router = APIRouter(prefix="/billing", include_in_schema=False)

PAGE_SIZE = 25


@dataclass(frozen=True)
class Page:
    """One page of a listing, with what the pager needs."""

    items: list[Any]
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(db: Session, query: Select[Any], count_query: Select[Any], number: int) -> Page:
    total = db.scalar(count_query) or 0
    number = min(max(1, number), max(1, -(-total // PAGE_SIZE)))
    items = list(db.execute(query.limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)).all())
    return Page(items=items, number=number, total=total)


PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]


@router.get("/accounts")
def accounts(request: Request, db: DbSession, user: CurrentUser, page: PageNumber = 1) -> Response:
    org = user.organization_id
    contracts = (
        select(func.count(BillingContract.id))
        .where(BillingContract.account_id == Account.id)
        .correlate(Account)
        .scalar_subquery()
    )
    query = (
        select(Account, contracts.label("contracts"))
        .where(Account.organization_id == org)
        .order_by(Account.name, Account.id)
    )
    count = select(func.count(Account.id)).where(Account.organization_id == org)
    return templates.TemplateResponse(
        request,
        "billing/accounts.html",
        {"active_tab": "billing", "sub_tab": "accounts", "page": paginate(db, query, count, page)},
    )


@router.get("/accounts/{account_id}")
def account_detail(request: Request, account_id: PathId, db: DbSession, user: CurrentUser) -> Response:
    account = db.get(Account, account_id)
    if account is None or account.organization_id != user.organization_id:
        raise HTTPException(status_code=404, detail="No such account")
    contacts = db.scalars(
        select(Contact).where(Contact.account_id == account.id).order_by(Contact.last_name, Contact.id)
    ).all()
    contracts = db.scalars(
        select(BillingContract)
        .where(BillingContract.account_id == account.id)
        .order_by(BillingContract.start_date, BillingContract.id)
    ).all()
    subscriptions: dict[int, list[tuple[Subscription, str]]] = {}
    for sub, product_name in db.execute(
        select(Subscription, Product.name)
        .join(Product, Product.id == Subscription.product_id)
        .join(BillingContract, BillingContract.id == Subscription.billing_contract_id)
        .where(
            BillingContract.account_id == account.id, Subscription.organization_id == account.organization_id
        )
        .order_by(Product.name, Subscription.id)
    ):
        subscriptions.setdefault(sub.billing_contract_id, []).append((sub, product_name))
    return templates.TemplateResponse(
        request,
        "billing/account.html",
        {
            "active_tab": "billing",
            "sub_tab": "accounts",
            "account": account,
            "contacts": contacts,
            "contracts": contracts,
            "subscriptions": subscriptions,
            "sync": account_sync_status(db, account),
        },
    )


@dataclass(frozen=True)
class SyncStatus:
    """How the account stands in Autotask, as the PSA Integration Customers tab shows it."""

    status: str
    label: str
    reason: str | None
    autotask_id: int | None


def account_sync_status(db: Session, account: Account) -> SyncStatus:
    """The account's Autotask sync status from the sync engine's links: one query, no Autotask call.

    An account the engine never planned has no link yet; it is "Pending" like on the Customers tab.
    """
    link = db.execute(
        select(SyncLink.status, SyncLink.reason, SyncLink.autotask_id)
        .where(
            SyncLink.organization_id == account.organization_id,
            SyncLink.record_type == "account",
            SyncLink.hub_id == account.id,
        )
        .order_by(SyncLink.id)
        .limit(1)
    ).first()
    if link is None:
        return SyncStatus("pending", STATUS_LABELS["pending"], NOT_PLANNED, None)
    status, reason, autotask_id = link
    return SyncStatus(status, STATUS_LABELS.get(status, status), reason, autotask_id)


@router.get("/contracts")
def contracts(request: Request, db: DbSession, user: CurrentUser, page: PageNumber = 1) -> Response:
    org = user.organization_id
    subscriptions = (
        select(func.count(Subscription.id))
        .where(Subscription.billing_contract_id == BillingContract.id)
        .correlate(BillingContract)
        .scalar_subquery()
    )
    # by customer (name, then id), then contract name: accounts' (organization_id, name, id) and contracts'
    # (account_id, name, id) indexes give this order without sorting the organization's contracts
    query = (
        select(BillingContract, Account.name.label("account_name"), subscriptions.label("subscriptions"))
        .select_from(Account)
        .join(BillingContract, Account.id == BillingContract.account_id)
        .where(Account.organization_id == org, BillingContract.organization_id == org)
        .order_by(Account.name, Account.id, BillingContract.name, BillingContract.id)
    )
    count = select(func.count(BillingContract.id)).where(BillingContract.organization_id == org)
    return templates.TemplateResponse(
        request,
        "billing/contracts.html",
        {"active_tab": "billing", "sub_tab": "contracts", "page": paginate(db, query, count, page)},
    )
