"""What a reconciliation found and what people decided, kept for the record.

* ``ReconcileRun``: one comparison on one date, with its API cost stated before and after.
* ``ReconcileDifference``: one difference, with a category, both values, who changed it and the evidence
  (the Autotask record or units row, the hub record, what PSA Bridge last wrote).
* ``ReconcileFix``: a proposed fix of a difference with its API-call cost; who approved it and when, and
  what was written (the journal entry) once applied.
* ``ReconcileAcceptance``: "leave it as is": the accepted difference (same values) is not reported again.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from psabridge.db import Base, utcnow


class ReconcileRun(Base):
    """One reconciliation of an organization's Autotask records against the hub on one date."""

    __tablename__ = "reconcile_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    on_date: Mapped[date] = mapped_column(Date)
    #: running | done | failed
    status: Mapped[str] = mapped_column(String(16), default="running")
    #: queries it said it would make before it ran, the calls it made, and the minimum that answers it
    estimated_calls: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    minimum_calls: Mapped[int] = mapped_column(Integer, default=0)
    #: per Autotask entity: {"queries": n, "records": m}
    reads: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: differences per category
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: differences not reported because a person accepted them earlier
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_by: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class ReconcileDifference(Base):
    """One way Autotask and the billing hub disagree."""

    __tablename__ = "reconcile_differences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconcile_runs.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    #: seats | price | missing | inactive | retyped | owned_field | unexplained_service | unlinked |
    #: not_in_autotask | drift
    category: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str | None] = mapped_column(String(32), default=None)
    hub_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: the subscription whose contract service this is about (for its trace)
    subscription_id: Mapped[int | None] = mapped_column(Integer, default=None)
    autotask_entity: Mapped[str] = mapped_column(String(64), default="")
    autotask_id: Mapped[int | None] = mapped_column(Integer, default=None)
    field: Mapped[str | None] = mapped_column(String(64), default=None)
    label: Mapped[str] = mapped_column(String(300), default="")
    autotask_value: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)
    hub_value: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)
    #: what PSA Bridge last wrote into the field (from the journal), when it wrote it
    last_written: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)
    #: person (changed in Autotask) | hub (changed in the hub, not pushed yet) | both | unknown | ""
    changed_by: Mapped[str] = mapped_column(String(16), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: what makes this difference "the same" as an accepted one (category, record, field, both values)
    signature: Mapped[str] = mapped_column(String(64), index=True)


class ReconcileFix(Base):
    """A proposed fix of one difference; applied only once an admin approved it."""

    __tablename__ = "reconcile_fixes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    difference_id: Mapped[int] = mapped_column(
        ForeignKey("reconcile_differences.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("reconcile_runs.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    #: adjust | write_back | relink | recreate | push | accept | guide (advice only)
    kind: Mapped[str] = mapped_column(String(24))
    summary: Mapped[str] = mapped_column(Text, default="")
    #: Autotask API calls applying it costs
    cost: Mapped[int] = mapped_column(Integer, default=0)
    #: it would overwrite a change a person made in Autotask (the screen says so)
    overwrites_person: Mapped[bool] = mapped_column(Boolean, default=False)
    approvable: Mapped[bool] = mapped_column(Boolean, default=True)
    #: what applying it writes (entity, ids, field and value, date and units, ...)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: proposed | approved | applied | failed (Autotask refused it) | stale (Autotask changed since)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    approved_by: Mapped[str | None] = mapped_column(String(200), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: what was written: {entity, verb, body, autotask_id, journal_id} (or the links it reset)
    written: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class ReconcileAcceptance(Base):
    """A difference a person accepted ("leave as is"): not reported again while both values stay."""

    __tablename__ = "reconcile_acceptances"
    __table_args__ = (UniqueConstraint("connector_id", "signature"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    signature: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(300), default="")
    autotask_value: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)
    hub_value: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)
    fix_id: Mapped[int | None] = mapped_column(Integer, default=None)
    accepted_by: Mapped[str] = mapped_column(String(200), default="")
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
