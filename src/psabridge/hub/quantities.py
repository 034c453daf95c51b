"""Seat counts: the only code that changes a subscription's quantity, always through a license change log.

Invariant: the deltas of a subscription's *active* logs add up to its quantity. Logs are never edited or
deleted; a wrong one is archived, which takes its delta back out of the quantity, so the invariant holds
and the sync engine can push the opposite adjustment to Autotask.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from psabridge.db import utcnow
from psabridge.hub.errors import ConflictError, InvalidRecord
from psabridge.hub.models import LicenseChangeLog, Subscription
from psabridge.hub.records import new_external_id


def initial_log_external_id(subscription_external_id: str) -> str:
    """Deterministic id of the 0 -> N log recorded when a subscription is created."""
    return f"{subscription_external_id}:initial"[:100]


def record_initial_log(subscription: Subscription) -> LicenseChangeLog:
    """The 0 -> quantity log at the subscription's start date, so its history explains its seats."""
    log = LicenseChangeLog(
        organization_id=subscription.organization_id,
        external_id=initial_log_external_id(subscription.external_id),
        subscription=subscription,
        effective_date=subscription.start_date,
        quantity_before=0,
        quantity_after=subscription.quantity,
        unit_price=subscription.unit_price,
        reason="Initial quantity",
        status="active",
        is_refund=False,
    )
    return log


def change_quantity(
    subscription: Subscription,
    quantity_after: int,
    *,
    effective_date: date,
    reason: str | None = None,
    unit_price: Decimal | None = None,
    is_refund: bool = False,
    refund_amount: Decimal | None = None,
    external_id: str | None = None,
    expected_before: int | None = None,
) -> LicenseChangeLog:
    """Record a seat change (a new log) and apply it to the subscription.

    ``expected_before`` guards against a concurrent change: if the quantity moved meanwhile, 409."""
    if expected_before is not None and expected_before != subscription.quantity:
        raise ConflictError.on(
            "quantity_before",
            f"the subscription's quantity is now {subscription.quantity}, not {expected_before}",
        )
    if effective_date < subscription.start_date:
        raise InvalidRecord.on(
            "effective_date", f"must not precede the subscription's start_date ({subscription.start_date})"
        )
    if quantity_after == subscription.quantity and unit_price is None and not is_refund:
        raise InvalidRecord.on("quantity_after", "equals the current quantity: nothing to record")
    log = LicenseChangeLog(
        organization_id=subscription.organization_id,
        external_id=external_id or new_external_id(LicenseChangeLog),
        subscription=subscription,
        effective_date=effective_date,
        quantity_before=subscription.quantity,
        quantity_after=quantity_after,
        unit_price=unit_price,
        reason=reason,
        status="active",
        is_refund=is_refund,
        refund_amount=refund_amount,
    )
    subscription.quantity = quantity_after
    if unit_price is not None:
        subscription.unit_price = unit_price
    subscription.updated_at = utcnow()
    return log


def archive_log(log: LicenseChangeLog) -> None:
    """Archive a log and take its delta back out of the subscription's quantity."""
    if log.status == "archived":
        raise ConflictError.on("status", "the license change log is already archived")
    subscription = log.subscription
    new_quantity = subscription.quantity - log.delta
    if new_quantity < 0:
        raise InvalidRecord.on(
            "status",
            f"archiving would leave the subscription at {new_quantity} seats; record a correcting log first",
        )
    log.status = "archived"
    subscription.quantity = new_quantity
