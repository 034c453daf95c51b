"""The mismatch report: subscriptions whose active license change logs don't add up to their quantity.

Such a subscription cannot be pushed safely (Autotask would end up with a different seat count than the
billing truth), so the sync engine and the Admin Hub show this list."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from psabridge.hub.models import LicenseChangeLog, Subscription


@dataclass(frozen=True)
class Mismatch:
    subscription_id: int
    subscription_external_id: str
    quantity: int
    logged_quantity: int
    active_log_count: int

    @property
    def difference(self) -> int:
        """Seats the logs fail to explain (positive: quantity is higher than the logs say)."""
        return self.quantity - self.logged_quantity


def mismatches(session: Session, organization_id: int) -> list[Mismatch]:
    """Every subscription of the organization whose active log deltas differ from its quantity."""
    logged = (
        select(
            LicenseChangeLog.subscription_id.label("sid"),
            func.sum(LicenseChangeLog.quantity_after - LicenseChangeLog.quantity_before).label("total"),
            func.count().label("n"),
        )
        .where(LicenseChangeLog.organization_id == organization_id, LicenseChangeLog.status == "active")
        .group_by(LicenseChangeLog.subscription_id)
        .subquery()
    )
    total = func.coalesce(logged.c.total, 0)
    rows = session.execute(
        select(Subscription.id, Subscription.external_id, Subscription.quantity, total, logged.c.n)
        .outerjoin(logged, logged.c.sid == Subscription.id)
        .where(Subscription.organization_id == organization_id, Subscription.quantity != total)
        .order_by(Subscription.id)
    ).all()
    return [
        Mismatch(
            subscription_id=r[0],
            subscription_external_id=r[1],
            quantity=r[2],
            logged_quantity=int(r[3]),
            active_log_count=int(r[4] or 0),
        )
        for r in rows
    ]
