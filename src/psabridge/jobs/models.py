"""What was asked to run and what happened to it (``jobs``), and the schedules that ask (``job_schedules``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from psabridge.db import Base, utcnow

KINDS = ("sync", "reconcile")
STATES = ("queued", "running", "succeeded", "failed")
TRIGGERS = ("manual", "push", "change", "schedule", "resume")


class Job(Base):
    """One sync or reconciliation of one organization's connector, queued, running or finished."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_org_state", "organization_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connector_id: Mapped[int | None] = mapped_column(
        ForeignKey("connectors.id", ondelete="SET NULL"), default=None
    )
    #: sync | reconcile
    kind: Mapped[str] = mapped_column(String(16))
    #: manual (CLI, API) | push (PSA Integration screen) | change (a hub change) | schedule
    #: | resume (a sync paused by the hourly API budget, due when the budget frees)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    #: queued | running | succeeded | failed
    state: Mapped[str] = mapped_column(String(16), default="queued")
    #: what the run needs (retry_failed, expected_digest, ...): never secrets
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: not before (change-driven syncs move it with every change: the quiet period; a resume: the budget)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: the sync run or reconciliation run it made
    run_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: the push's plan was confirmed (the previewed one): writes may follow
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: host:pid of the worker that ran it last
    worker: Mapped[str] = mapped_column(String(200), default="")
    #: plan_changed | busy | sync | autotask | error (what the caller maps to an answer)
    error_kind: Mapped[str | None] = mapped_column(String(32), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class Schedule(Base):
    """Run a connector's sync or reconciliation hourly (at a minute) or daily (at HH:MM, the
    organization's time zone)."""

    __tablename__ = "job_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    #: hourly | daily
    frequency: Mapped[str] = mapped_column(String(16))
    hour: Mapped[int] = mapped_column(Integer, default=0)
    minute: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: the due time last fired (claimed by exactly one scheduler)
    last_fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
