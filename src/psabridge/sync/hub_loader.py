"""Reading the billing hub for the sync: the catalog once, then the customers in bounded batches.

Why batches: an organization with 100,000 subscriptions has half a million change logs; holding them
all (as ORM objects, then as a plan of 400,000 operations) took over a gigabyte. Everything of a
customer — its company and contact, contracts, subscriptions, their logs and refunds — depends only on
that customer and the catalog (products and the Autotask services they are sold as), so the sync plans
and applies the catalog first and then one batch of customers at a time, each batch read with a few
indexed queries of plain columns (no ORM identity map), never more than about ``BATCH_SUBSCRIPTIONS``
subscriptions in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from psabridge.hub import models as hub
from psabridge.hub.calendar import calendar_date, organization_time_zone
from psabridge.sync.snapshot import (
    HubAccount,
    HubChangeLog,
    HubContact,
    HubContract,
    HubProduct,
    HubSnapshot,
    HubSubscription,
)

#: Subscriptions per batch of customers (a customer is never split across batches).
BATCH_SUBSCRIPTIONS = 5_000
#: Ids per ``IN (...)`` of one query (well under SQLite's and PostgreSQL's parameter limits).
_IN_CHUNK = 2_000


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(ids), _IN_CHUNK):
        yield ids[i : i + _IN_CHUNK]


def load_products(session: Session, organization_id: int) -> tuple[HubProduct, ...]:
    p = hub.Product
    rows = session.execute(
        select(
            p.id,
            p.external_id,
            p.name,
            p.sku,
            p.manufacturer,
            p.kind,
            p.unit_price,
            p.unit_cost,
            p.is_active,
            p.description,
        )
        .where(p.organization_id == organization_id)
        .order_by(p.id)
    )
    return tuple(HubProduct(*_values(row)) for row in rows)


def product_frequencies(session: Session, organization_id: int) -> dict[int, frozenset[str]]:
    """Product id -> billing frequencies its subscriptions are billed at (one grouped query)."""
    s, c = hub.Subscription, hub.BillingContract
    rows = session.execute(
        select(s.product_id, c.billing_frequency)
        .join(c, c.id == s.billing_contract_id)
        .where(s.organization_id == organization_id)
        .distinct()
    )
    out: dict[int, set[str]] = defaultdict(set)
    for product_id, frequency in rows:
        out[int(product_id)].add(str(frequency))
    return {pid: frozenset(freqs) for pid, freqs in out.items()}


def load_catalog(session: Session, organization_id: int) -> HubSnapshot:
    """The products, and which frequencies each is sold at: all the catalog step plans from."""
    return HubSnapshot(
        organization_id,
        products=load_products(session, organization_id),
        sold_at=product_frequencies(session, organization_id),
    )


def has_contracts(session: Session, organization_id: int) -> bool:
    c = hub.BillingContract
    return session.scalar(select(c.id).where(c.organization_id == organization_id).limit(1)) is not None


def account_batches(
    session: Session, organization_id: int, batch_subscriptions: int = BATCH_SUBSCRIPTIONS
) -> Iterator[list[int]]:
    """Account ids in id order, grouped so each group holds about ``batch_subscriptions`` subscriptions."""
    a, c, s = hub.Account, hub.BillingContract, hub.Subscription
    counts = dict(
        session.execute(
            select(c.account_id, func.count(s.id))
            .join(s, s.billing_contract_id == c.id)
            .where(c.organization_id == organization_id)
            .group_by(c.account_id)
        ).all()
    )
    batch: list[int] = []
    size = 0
    for (account_id,) in session.execute(
        select(a.id).where(a.organization_id == organization_id).order_by(a.id)
    ):
        batch.append(int(account_id))
        size += int(counts.get(account_id, 0)) + 1
        if size >= batch_subscriptions:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def load_accounts(
    session: Session,
    organization_id: int,
    account_ids: Sequence[int],
    products: tuple[HubProduct, ...],
    zone: str | None,
) -> HubSnapshot:
    """Everything of these customers the sync pushes, with the catalog's products for lookups.

    Dates derived from timestamps (when a subscription was cancelled, when a log was archived) are
    calendar dates of the organization's time zone, like every other date the sync pushes.
    """
    accounts = _accounts(session, organization_id, account_ids)
    contracts = _contracts(session, organization_id, account_ids)
    subscriptions = _subscriptions(session, organization_id, [c.id for c in contracts], zone)
    logs = _logs(session, organization_id, [s.id for s in subscriptions], zone)
    return HubSnapshot(organization_id, accounts, products, contracts, subscriptions, logs)


def load_snapshot(session: Session, organization_id: int) -> HubSnapshot:
    """Every record of the organization the sync pushes (small organizations, previews, tests)."""
    zone = organization_time_zone(session, organization_id)
    ids = [
        int(i)
        for (i,) in session.execute(
            select(hub.Account.id)
            .where(hub.Account.organization_id == organization_id)
            .order_by(hub.Account.id)
        )
    ]
    return load_accounts(session, organization_id, ids, load_products(session, organization_id), zone)


def _accounts(session: Session, org: int, ids: Sequence[int]) -> tuple[HubAccount, ...]:
    a, k = hub.Account, hub.Contact
    out: list[HubAccount] = []
    for chunk in _chunks(ids):
        rows = session.execute(
            select(
                a.id,
                a.external_id,
                a.name,
                a.phone,
                a.address_line1,
                a.address_line2,
                a.city,
                a.state,
                a.postal_code,
                a.owner_email,
                a.status,
                k.id,
                k.external_id,
                k.first_name,
                k.last_name,
                k.email,
                k.phone,
                k.is_active,
            )
            .outerjoin(k, k.id == a.primary_contact_id)
            .where(a.organization_id == org, a.id.in_(chunk))
        )
        for row in rows:
            values = _values(row)
            contact = HubContact(*values[11:]) if values[11] is not None else None
            out.append(HubAccount(*(*values[:11], contact)))
    return tuple(sorted(out, key=lambda x: x.id))


def _contracts(session: Session, org: int, account_ids: Sequence[int]) -> tuple[HubContract, ...]:
    c = hub.BillingContract
    columns: tuple[Any, ...] = (
        c.id,
        c.external_id,
        c.account_id,
        c.name,
        c.contract_type,
        c.billing_frequency,
        c.start_date,
        c.end_date,
        c.status,
        c.setup_fee,
    )
    return tuple(
        sorted(
            (
                HubContract(*row)
                for row in _in(session, columns, c.account_id, account_ids, c.organization_id == org)
            ),
            key=lambda x: x.id,
        )
    )


def _subscriptions(
    session: Session, org: int, contract_ids: Sequence[int], zone: str | None
) -> tuple[HubSubscription, ...]:
    s = hub.Subscription
    columns: tuple[Any, ...] = (
        s.id,
        s.external_id,
        s.billing_contract_id,
        s.product_id,
        s.quantity,
        s.unit_price,
        s.unit_cost,
        s.start_date,
        s.end_date,
        s.status,
        s.updated_at,
    )
    out = [
        HubSubscription(*(*row[:10], calendar_date(row[10], zone)))
        for row in map(
            _values, _in(session, columns, s.billing_contract_id, contract_ids, s.organization_id == org)
        )
    ]
    return tuple(sorted(out, key=lambda x: x.id))


def _logs(
    session: Session, org: int, subscription_ids: Sequence[int], zone: str | None
) -> tuple[HubChangeLog, ...]:
    g = hub.LicenseChangeLog
    columns: tuple[Any, ...] = (
        g.id,
        g.external_id,
        g.subscription_id,
        g.effective_date,
        g.quantity_before,
        g.quantity_after,
        g.unit_price,
        g.status,
        g.is_refund,
        g.refund_amount,
        g.updated_at,
    )
    out = [
        HubChangeLog(*(*row[:10], calendar_date(row[10], zone) if row[10] else None))
        for row in map(
            _values, _in(session, columns, g.subscription_id, subscription_ids, g.organization_id == org)
        )
    ]
    return tuple(sorted(out, key=lambda x: x.id))


def _in(
    session: Session, columns: tuple[Any, ...], key: Any, ids: Sequence[int], *where: Any
) -> Iterable[Any]:
    for chunk in _chunks(ids):
        yield from session.execute(select(*columns).where(key.in_(chunk), *where))


def _values(row: Any) -> tuple[Any, ...]:
    """A result row as a plain tuple (its columns are the dataclass fields, in order)."""
    return tuple(row)
