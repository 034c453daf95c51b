"""The SQL of the PSA Integration tabs: each tab's rows as ordered sections of one indexed query each.

A tab's rows are hub records (and, on Changes, records only the sync engine knows: initial units and
cancellations) with the status of their sync link; a record without a link is "pending". A section is one
SELECT — or a UNION ALL of arms sorted together — yielding ``record_type``, ``hub_id``, ``status`` and
sort keys ``k1..k3``; its status is the LEFT JOINed link's (``COALESCE(status, 'pending')``), so a status
filter and the counts per status are SQL too (``GROUP BY``), and a page is ``ORDER BY k1, k2, k3 LIMIT
OFFSET`` (offset paging: the sort keys are indexed, counts are one GROUP BY per section).

Everything is scoped to the organization. The Products tab is not here: the catalog is small (products
times the frequencies they are sold at), and its rows are ordered in Python (see ``tab_pages``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from psabridge.hub import models as hub
from psabridge.sync.models import SyncLink

PENDING = "pending"
#: Records only the engine knows (no hub row of their own), shown on Changes after the seat changes.
ENGINE_ONLY = ("cancellation", "subscription_start")


def _link(org: int, record_type: Any, hub_id: Any) -> tuple[Any, ColumnElement[bool]]:
    """An aliased sync link and the LEFT JOIN condition tying it to one hub record."""
    link = aliased(SyncLink)
    on = and_(link.organization_id == org, link.record_type == record_type, link.hub_id == hub_id)
    return link, on


def _status(link: Any) -> ColumnElement[str]:
    return func.coalesce(link.status, PENDING).label("status")


@dataclass(frozen=True)
class Section:
    """Ordered rows of a tab: one SELECT or a UNION ALL of arms with the same columns."""

    arms: tuple[Any, ...]

    def subquery(self, status: str | None = None) -> Any:
        arms = [a.where(a.selected_columns.status == status) if status else a for a in self.arms]
        query: Any = arms[0] if len(arms) == 1 else union_all(*arms)
        return query.subquery()

    def counts(self, session: Session) -> dict[str, int]:
        sub = self.subquery()
        return {
            str(status): int(n)
            for status, n in session.execute(select(sub.c.status, func.count()).group_by(sub.c.status))
        }

    def page(self, session: Session, status: str | None, offset: int, limit: int) -> list[tuple[str, int]]:
        sub = self.subquery(status)
        rows = session.execute(
            select(sub.c.record_type, sub.c.hub_id)
            .order_by(sub.c.k1, sub.c.k2, sub.c.k3)
            .limit(limit)
            .offset(offset)
        )
        return [(str(rt), int(hid)) for rt, hid in rows]

    def position(self, session: Session, status: str | None, record_type: str, hub_id: int) -> int | None:
        """How many rows come before this record (None: not a row of the section)."""
        sub = self.subquery(status)
        keys = session.execute(
            select(sub.c.k1, sub.c.k2, sub.c.k3).where(
                sub.c.record_type == record_type, sub.c.hub_id == hub_id
            )
        ).first()
        if keys is None:
            return None
        before = tuple_(sub.c.k1, sub.c.k2, sub.c.k3) < tuple_(*(literal(k) for k in keys))
        return int(session.scalar(select(func.count()).select_from(sub).where(before)) or 0)


def _customers(org: int) -> list[Section]:
    a_link, a_on = _link(org, "account", hub.Account.id)
    accounts = (
        select(
            literal("account").label("record_type"),
            hub.Account.id.label("hub_id"),
            _status(a_link),
            hub.Account.name.label("k1"),
            hub.Account.id.label("k2"),
            literal(0).label("k3"),
        )
        .outerjoin(a_link, a_on)
        .where(hub.Account.organization_id == org)
    )
    owner = aliased(hub.Account)
    c_link, c_on = _link(org, "contact", hub.Contact.id)
    contacts = (
        select(
            literal("contact").label("record_type"),
            hub.Contact.id.label("hub_id"),
            _status(c_link),
            owner.name.label("k1"),
            owner.id.label("k2"),
            literal(1).label("k3"),
        )
        .select_from(owner)
        .join(
            hub.Contact, and_(hub.Contact.id == owner.primary_contact_id, hub.Contact.organization_id == org)
        )
        .outerjoin(c_link, c_on)
        .where(owner.organization_id == org)
    )
    return [Section((accounts, contacts))]


def _agreements(org: int) -> list[Section]:
    link, on = _link(org, "billing_contract", hub.BillingContract.id)
    contracts = (
        select(
            literal("billing_contract").label("record_type"),
            hub.BillingContract.id.label("hub_id"),
            _status(link),
            hub.Account.name.label("k1"),
            hub.BillingContract.name.label("k2"),
            hub.BillingContract.id.label("k3"),
        )
        .join(hub.Account, hub.Account.id == hub.BillingContract.account_id)
        .outerjoin(link, on)
        .where(hub.BillingContract.organization_id == org)
    )
    return [Section((contracts,))]


def _services(org: int) -> list[Section]:
    link, on = _link(org, "subscription", hub.Subscription.id)
    subscriptions = (
        select(
            literal("subscription").label("record_type"),
            hub.Subscription.id.label("hub_id"),
            _status(link),
            hub.Subscription.id.label("k1"),
            literal(0).label("k2"),
            literal(0).label("k3"),
        )
        .outerjoin(link, on)
        .where(hub.Subscription.organization_id == org)
    )
    return [Section((subscriptions,))]


def _changes(org: int) -> list[Section]:
    log = hub.LicenseChangeLog
    active = and_(log.organization_id == org, log.status == "active")
    arms = []
    for record_type, k3, shown in (
        (
            "license_change_log",
            0,
            or_(log.quantity_after != log.quantity_before, log.unit_price.is_not(None), not_(log.is_refund)),
        ),
        ("refund", 1, and_(log.is_refund, log.refund_amount.is_not(None), log.refund_amount != 0)),
    ):
        link, on = _link(org, record_type, log.id)
        arms.append(
            select(
                literal(record_type).label("record_type"),
                log.id.label("hub_id"),
                _status(link),
                log.effective_date.label("k1"),
                log.id.label("k2"),
                literal(k3).label("k3"),
            )
            .outerjoin(link, on)
            .where(active, shown)
        )
    engine_only = select(
        SyncLink.record_type.label("record_type"),
        SyncLink.hub_id.label("hub_id"),
        SyncLink.status.label("status"),
        SyncLink.record_type.label("k1"),
        SyncLink.hub_id.label("k2"),
        literal(0).label("k3"),
    ).where(
        SyncLink.organization_id == org,
        SyncLink.record_type.in_(ENGINE_ONLY),
        exists().where(hub.Subscription.id == SyncLink.hub_id, hub.Subscription.organization_id == org),
    )
    return [Section(tuple(arms)), Section((engine_only,))]


SECTIONS = {"customers": _customers, "agreements": _agreements, "services": _services, "changes": _changes}


def sections(tab_key: str, org: int) -> Sequence[Section]:
    """The sections of a SQL-paged tab, in display order."""
    return SECTIONS[tab_key](org)
