"""The hub's names of one page of PSA Integration rows: one query per kind of record on the page
(``IN (...)`` the page's ids), never one per row and never the whole organization.

Contract names repeat across customers, so contracts, services and changes carry their customer's name
("Managed Services — Contoso Ltd"); a subscription is named "<product> (<contract> — <customer>)".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.hub import models as hub

Key = tuple[str, int]
Labels = dict[Key, tuple[str, str]]


def _subscription_names(session: Session, org: int, ids: Iterable[int]) -> dict[int, str]:
    """``{subscription id: "<product> (<contract> — <customer>)"}``."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(hub.Subscription.id, hub.Product.name, hub.BillingContract.name, hub.Account.name)
        .join(hub.Product, hub.Product.id == hub.Subscription.product_id)
        .join(hub.BillingContract, hub.BillingContract.id == hub.Subscription.billing_contract_id)
        .join(hub.Account, hub.Account.id == hub.BillingContract.account_id)
        .where(hub.Subscription.organization_id == org, hub.Subscription.id.in_(wanted))
    )
    return {sid: f"{product} ({contract} — {account})" for sid, product, contract, account in rows}


def _subscription(names: dict[int, str], sub_id: int) -> str:
    return names.get(sub_id, f"subscription {sub_id}")


def labels(session: Session, org: int, keys: Iterable[Key]) -> Labels:
    """``{(record_type, hub_id): (label, detail)}`` of the given rows."""
    by_type: dict[str, set[int]] = defaultdict(set)
    for record_type, hub_id in keys:
        by_type[record_type].add(hub_id)
    out: Labels = {}
    products = by_type.get("product", set()) | {
        i for rt, ids in by_type.items() if rt.startswith("service.") for i in ids
    }
    if products:
        found = {
            p.id: p
            for p in session.scalars(
                select(hub.Product).where(hub.Product.organization_id == org, hub.Product.id.in_(products))
            )
        }
        for record_type, ids in by_type.items():
            for pid in ids if record_type == "product" or record_type.startswith("service.") else ():
                p = found.get(pid)
                if p is None:
                    continue
                if record_type == "product":
                    out[(record_type, pid)] = (p.name, f"{p.sku or ''} one-time product".strip())
                else:
                    freq = record_type.split(".", 1)[1]
                    out[(record_type, pid)] = (f"{p.name} ({freq.replace('_', '-')})", p.sku or "")
    if accounts := by_type.get("account"):
        for a in session.scalars(
            select(hub.Account).where(hub.Account.organization_id == org, hub.Account.id.in_(accounts))
        ):
            out[("account", a.id)] = (a.name, " · ".join(x for x in (a.phone, a.city) if x))
    if contacts := by_type.get("contact"):
        for first, last, cid, owner in session.execute(
            select(hub.Contact.first_name, hub.Contact.last_name, hub.Contact.id, hub.Account.name)
            .join(hub.Account, hub.Account.primary_contact_id == hub.Contact.id)
            .where(hub.Contact.organization_id == org, hub.Contact.id.in_(contacts))
        ):
            out[("contact", cid)] = (f"{first} {last}", f"primary contact of {owner}")
    if contracts := by_type.get("billing_contract"):
        for c, account in session.execute(
            select(hub.BillingContract, hub.Account.name)
            .join(hub.Account, hub.Account.id == hub.BillingContract.account_id)
            .where(hub.BillingContract.organization_id == org, hub.BillingContract.id.in_(contracts))
        ):
            detail = f"{c.billing_frequency.replace('_', '-')}, from {c.start_date.isoformat()}"
            out[("billing_contract", c.id)] = (f"{c.name} — {account}", detail)
    _subscription_rows(session, org, by_type, out)
    return out


def _subscription_rows(session: Session, org: int, by_type: dict[str, set[int]], out: Labels) -> None:
    """Rows named after a subscription: services, seat changes, refunds, initial units, cancellations."""
    log_ids = by_type.get("license_change_log", set()) | by_type.get("refund", set())
    logs = (
        list(
            session.scalars(
                select(hub.LicenseChangeLog).where(
                    hub.LicenseChangeLog.organization_id == org, hub.LicenseChangeLog.id.in_(log_ids)
                )
            )
        )
        if log_ids
        else []
    )
    sub_ids = {lg.subscription_id for lg in logs}
    for record_type in ("subscription", "subscription_start", "cancellation"):
        sub_ids |= by_type.get(record_type, set())
    names = _subscription_names(session, org, sub_ids)
    if ids := by_type.get("subscription"):
        for s in session.scalars(
            select(hub.Subscription).where(
                hub.Subscription.organization_id == org, hub.Subscription.id.in_(ids)
            )
        ):
            detail = f"{s.quantity} seats from {s.start_date.isoformat()} ({s.status})"
            out[("subscription", s.id)] = (_subscription(names, s.id), detail)
    for sid in by_type.get("subscription_start", ()):
        what = _subscription(names, sid)
        out[("subscription_start", sid)] = (
            f"{what}: initial units",
            "units added at the subscription's start",
        )
    for sid in by_type.get("cancellation", ()):
        out[("cancellation", sid)] = (f"{_subscription(names, sid)}: cancellation", "units down to 0")
    for lg in logs:
        what = _subscription(names, lg.subscription_id)
        when = lg.effective_date.isoformat()
        if lg.id in by_type.get("license_change_log", ()):
            delta = lg.quantity_after - lg.quantity_before
            out[("license_change_log", lg.id)] = (
                f"{what}: {'+' if delta >= 0 else ''}{delta} seats on {when}",
                lg.reason or "",
            )
        if lg.id in by_type.get("refund", ()):
            out[("refund", lg.id)] = (f"{what}: refund {lg.refund_amount} on {when}", lg.reason or "")
