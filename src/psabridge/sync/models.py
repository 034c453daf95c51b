"""Sync engine state: links, the write journal, runs and per-record results.

* ``SyncLink`` is the engine's memory of one hub record: which Autotask record it is (or why it is not
  yet), the matching key written into Autotask and a fingerprint of the owned fields last pushed, so an
  unchanged record costs no API call at all.
* ``JournalEntry`` makes writes exactly-once although Autotask has no idempotency keys: the intent is
  committed *before* the call and the outcome after it; an intent without outcome (a kill) or with outcome
  ``unknown`` (a lost response) is reconciled by reading Autotask before anything is retried.
* ``SyncRun`` / ``RecordResult`` are the run history users read ("what did the last sync do, and why not").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from psabridge.db import Base, utcnow


class SyncLink(Base):
    """One hub record (or derived item, e.g. a change log) and the Autotask record it corresponds to."""

    __tablename__ = "sync_links"
    __table_args__ = (
        UniqueConstraint("connector_id", "record_type", "hub_id"),
        # the PSA Integration tabs: a page's statuses, and counts per status (migration 0007)
        Index("ix_sync_links_org_record", "organization_id", "record_type", "hub_id", "status"),
        Index("ix_sync_links_org_status", "organization_id", "status", "record_type"),
        # the data version the tabs' cached counts are checked against (psa_integration.count_cache)
        Index("ix_sync_links_org_updated", "organization_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"), index=True)
    #: product | customer | contact | agreement | service | change | refund | reversal
    record_type: Mapped[str] = mapped_column(String(32))
    hub_id: Mapped[int] = mapped_column(Integer)
    autotask_entity: Mapped[str] = mapped_column(String(64))
    autotask_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: The Autotask parent (e.g. the contract of a contract service), for child routes.
    parent_autotask_id: Mapped[int | None] = mapped_column(Integer, default=None)
    matching_key: Mapped[str | None] = mapped_column(String(100), default=None)
    #: SHA-256 of the owned fields as last pushed; a different desired fingerprint means "update".
    fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    #: synced | pending | needs_link | blocked | waiting | error
    status: Mapped[str] = mapped_column(String(20), default="pending")
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    #: auto (engine decides) | link (user chose an Autotask id) | add_new (user chose to create)
    decision: Mapped[str] = mapped_column(String(16), default="auto")
    #: Suggested Autotask records to link ([{"id": .., "name": ..}]), shown until the user decides.
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: Create-only values the record was created with that a later settings change could contradict
    #: (a service's ``periodType``, a contract's ``contractPeriodType``), to say so in the plan.
    created_with: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: Operation that produced the Autotask record (journal op id), e.g. a merged adjustment.
    op_id: Mapped[str | None] = mapped_column(String(160), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class JournalEntry(Base):
    """One Autotask write: intent committed before the call, outcome recorded after it."""

    __tablename__ = "sync_journal"
    __table_args__ = (
        Index("ix_sync_journal_connector_outcome", "connector_id", "outcome"),
        # names of a page's linked Autotask records (psa_integration.names)
        Index("ix_sync_journal_org_entity_autotask", "organization_id", "entity", "autotask_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("sync_runs.id", ondelete="SET NULL"), default=None, index=True
    )
    op_id: Mapped[str] = mapped_column(String(160), index=True)
    entity: Mapped[str] = mapped_column(String(64))
    verb: Mapped[str] = mapped_column(String(16))
    body_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    matching_key: Mapped[str | None] = mapped_column(String(100), default=None)
    parent_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: What the write covers: [{"record_type", "hub_id", "fingerprint"}] plus, for adjustments,
    #: {"units_after": n, "effective_date": ...} so reconciliation can check ContractServiceUnits.
    covers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: None while the call is in flight (or the process died); then done | failed | unknown | reconciled
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    autotask_id: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class SyncRun(Base):
    """One plan or apply of an organization's records, with counts per entity."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16), default="apply")  # plan | apply
    retry_failed_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: running | succeeded | partial (some records failed) | paused (budget) | failed
    status: Mapped[str] = mapped_column(String(16), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    planned_operations: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class RecordResult(Base):
    """What a run did (or why it did not) for one hub record."""

    __tablename__ = "sync_record_results"
    __table_args__ = (
        # a run page: results in order, per status, and those the run wrote (migration 0007)
        Index("ix_sync_record_results_run_order", "run_id", "id"),
        Index("ix_sync_record_results_run_status", "run_id", "status", "id"),
        Index("ix_sync_record_results_run_written", "run_id", "written", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    record_type: Mapped[str] = mapped_column(String(32))
    hub_id: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(300), default="")
    #: synced | pending | needs_link | blocked | waiting | error
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    autotask_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: The run wrote this record to Autotask (its journal entry went through); None on runs recorded
    #: before revision 0007 (their pages derive it from the journal).
    written: Mapped[bool | None] = mapped_column(Boolean, default=None)
