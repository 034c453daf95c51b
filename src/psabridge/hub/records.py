"""Tenant-scoped access to billing records: every lookup and list goes through here, so a query can never
forget the organization filter and another tenant's records behave exactly like missing ones."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from psabridge.hub.errors import ConflictError, InvalidRecord, RecordNotFound
from psabridge.hub.models import HubRecord

R = TypeVar("R", bound=HubRecord)

#: Human names of the record types, for messages.
LABELS: dict[str, str] = {
    "accounts": "account",
    "contacts": "contact",
    "products": "product",
    "billing_contracts": "billing contract",
    "subscriptions": "subscription",
    "license_change_logs": "license change log",
}


def label(model: type[HubRecord]) -> str:
    name = str(model.__tablename__)
    return LABELS.get(name, name)


def get_record(session: Session, model: type[R], organization_id: int, record_id: int) -> R:
    """The record ``record_id`` of this organization, or :class:`RecordNotFound`."""
    record = session.scalar(
        select(model).where(model.id == record_id, model.organization_id == organization_id)
    )
    if record is None:
        raise RecordNotFound(f"No {label(model)} with id {record_id}.")
    return record


def get_reference(session: Session, model: type[R], organization_id: int, record_id: int, field: str) -> R:
    """A record referenced from input field ``field``; a missing one is the caller's input error (422)."""
    record = session.scalar(
        select(model).where(model.id == record_id, model.organization_id == organization_id)
    )
    if record is None:
        raise InvalidRecord.on(field, f"no {label(model)} with id {record_id} in this organization")
    return record


def new_external_id(model: type[HubRecord]) -> str:
    """An external id for a record created without one (random, so it never collides with imports)."""
    return f"{model.__tablename__[:3]}-{uuid.uuid4().hex[:20]}"


def claim_external_id(
    session: Session, model: type[HubRecord], organization_id: int, external_id: str | None
) -> str:
    """``external_id`` if free in this organization (else 409), or a new one when none was given."""
    if external_id is None:
        return new_external_id(model)
    taken = session.scalar(
        select(model.id).where(model.organization_id == organization_id, model.external_id == external_id)
    )
    if taken is not None:
        raise ConflictError.on("external_id", f"already used by {label(model)} {taken}")
    return external_id


def list_records(
    session: Session,
    model: type[R],
    organization_id: int,
    *,
    filters: Mapping[str, Any] | None = None,
    search: tuple[Sequence[str], str] | None = None,
    extra: Sequence[Any] = (),
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[R], int]:
    """One page of this organization's records (ordered by id) and the total matching.

    ``filters`` are column equalities (``None`` values are ignored), ``search`` a case-insensitive
    substring over some text columns, ``extra`` further SQL conditions."""
    stmt: Select[R] = select(model).where(model.organization_id == organization_id)
    for column, value in (filters or {}).items():
        if value is not None:
            stmt = stmt.where(getattr(model, column) == value)
    if search and search[1]:
        pattern = f"%{search[1].lower()}%"
        stmt = stmt.where(or_(*(func.lower(getattr(model, c)).like(pattern) for c in search[0])))
    for condition in extra:
        stmt = stmt.where(condition)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = list(session.scalars(stmt.order_by(model.id).limit(limit).offset(offset)))
    return items, total
