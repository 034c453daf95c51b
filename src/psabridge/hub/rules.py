"""Domain rules that need more than one record, as pure functions shared by the service layer (one record
at a time) and the importer (thousands at a time), so both refuse exactly the same data."""

from __future__ import annotations

from datetime import date

from psabridge.hub.errors import FieldError


def subscription_dates(
    start: date, end: date | None, contract_start: date, contract_end: date | None
) -> list[FieldError]:
    """A subscription lives inside its contract: Autotask wants the contract to start first."""
    errors = []
    if start < contract_start:
        errors.append(
            FieldError("start_date", f"must not precede the billing contract's start_date ({contract_start})")
        )
    if contract_end is not None and start > contract_end:
        errors.append(
            FieldError("start_date", f"must not follow the billing contract's end_date ({contract_end})")
        )
    if end is not None and end < start:
        errors.append(FieldError("end_date", "must be on or after start_date"))
    return errors


def log_date(effective: date, subscription_start: date) -> list[FieldError]:
    """A seat change cannot take effect before the subscription exists."""
    if effective < subscription_start:
        return [
            FieldError(
                "effective_date", f"must not precede the subscription's start_date ({subscription_start})"
            )
        ]
    return []


def contract_start_change(new_start: date, earliest_subscription_start: date | None) -> list[FieldError]:
    """Moving a contract's start must keep every subscription inside it."""
    if earliest_subscription_start is not None and new_start > earliest_subscription_start:
        return [
            FieldError(
                "start_date",
                f"must not follow the start of its subscriptions (earliest {earliest_subscription_start})",
            )
        ]
    return []
