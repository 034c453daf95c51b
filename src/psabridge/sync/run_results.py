"""A run's per-record results a page at a time: counts per status by ``GROUP BY``, pages by
``ORDER BY id LIMIT OFFSET`` on the ``(run_id, status, id)`` / ``(run_id, written, id)`` indexes, so a
run of 100,000 records reads as fast as one of 10.

"Written by this run" is the ``written`` flag the run recorder sets (and the journal's reconciliation,
when it finds that a write of the run went through after all). Runs recorded before that flag existed
(``written`` NULL) are derived from their journal as before: slower, but only for old runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, select, true, update
from sqlalchemy.orm import Session

from psabridge.sync.models import JournalEntry, RecordResult, SyncRun

#: the pseudo status of the "Written by this run" filter
WRITTEN = "written"


def status_counts(session: Session, run_id: int) -> dict[str, int]:
    """``{status: results}`` of a run."""
    return {
        str(status): int(n)
        for status, n in session.execute(
            select(RecordResult.status, func.count())
            .where(RecordResult.run_id == run_id)
            .group_by(RecordResult.status)
            .order_by(RecordResult.status)
        )
    }


def _legacy(session: Session, run: SyncRun) -> bool:
    """A run recorded before results said whether they were written."""
    return run.mode == "apply" and bool(
        session.scalar(select(exists().where(RecordResult.run_id == run.id, RecordResult.written.is_(None))))
    )


def journal_written(session: Session, run_id: int) -> set[tuple[str, int]]:
    """``(record_type, hub_id)`` of the records a push wrote, from its journal (old runs)."""
    written: set[tuple[str, int]] = set()
    for covers in session.scalars(
        select(JournalEntry.covers).where(
            JournalEntry.run_id == run_id, JournalEntry.outcome.in_(("done", "reconciled"))
        )
    ):
        for item in (covers or {}).get("records", []):
            if "record_type" in item and "hub_id" in item:
                written.add((str(item["record_type"]), int(item["hub_id"])))
    return written


@dataclass(frozen=True)
class ResultsPage:
    results: list[RecordResult]
    #: results matching the filter
    total: int
    page: int
    pages: int
    #: results per status, over the whole run
    counts: dict[str, int]
    #: records the run wrote (0 for a preview)
    written: int


@dataclass(frozen=True)
class _Totals:
    counts: dict[str, int]
    written: int
    total: int
    #: records written, for runs recorded before the ``written`` flag (None otherwise)
    old_written: set[tuple[str, int]] | None


def _totals(session: Session, run: SyncRun, status: str | None) -> _Totals:
    counts = status_counts(session, run.id)
    old_written = journal_written(session, run.id) if _legacy(session, run) else None
    if run.mode != "apply":
        written = 0
    elif old_written is not None:
        written = len(old_written)
    else:
        written = int(
            session.scalar(
                select(func.count()).where(RecordResult.run_id == run.id, RecordResult.written.is_(true()))
            )
            or 0
        )
    if status == WRITTEN:
        total = written
    elif status:
        total = counts.get(status, 0)
    else:
        total = sum(counts.values())
    return _Totals(counts, written, total, old_written)


def _fetch(
    session: Session, run: SyncRun, status: str | None, totals: _Totals, offset: int, limit: int
) -> list[RecordResult]:
    query = select(RecordResult).where(RecordResult.run_id == run.id).order_by(RecordResult.id)
    if status == WRITTEN and totals.old_written is not None:
        old = totals.old_written
        matching = [r for r in session.scalars(query) if (r.record_type, r.hub_id) in old]
        return matching[offset : offset + limit]
    if not limit or offset >= totals.total:
        return []
    if status == WRITTEN:
        query = query.where(RecordResult.written.is_(true()))
    elif status:
        query = query.where(RecordResult.status == status)
    return list(session.scalars(query.limit(limit).offset(offset)))


def results_page(
    session: Session, run: SyncRun, *, status: str | None = None, page: int = 1, size: int = 50
) -> ResultsPage:
    """Page ``page`` of a run's results, oldest first (past the last page: the last page)."""
    totals = _totals(session, run, status)
    pages = max(1, -(-totals.total // size))
    page = min(max(1, page), pages)
    shown = _fetch(session, run, status, totals, (page - 1) * size, size)
    return ResultsPage(shown, totals.total, page, pages, totals.counts, totals.written)


def results_slice(
    session: Session, run: SyncRun, *, status: str | None = None, offset: int = 0, limit: int = 50
) -> ResultsPage:
    """``limit`` of a run's results from ``offset``, oldest first (``status`` may be :data:`WRITTEN`)."""
    totals = _totals(session, run, status)
    shown = _fetch(session, run, status, totals, offset, limit)
    return ResultsPage(shown, totals.total, 1, 1, totals.counts, totals.written)


def mark_written(session: Session, run_id: int, records: list[tuple[str, int]]) -> None:
    """A write of run ``run_id`` turned out to have gone through (the journal's reconciliation)."""
    for record_type, hub_id in records:
        session.execute(
            update(RecordResult)
            .where(
                RecordResult.run_id == run_id,
                RecordResult.record_type == record_type,
                RecordResult.hub_id == hub_id,
            )
            .values(written=True)
        )
