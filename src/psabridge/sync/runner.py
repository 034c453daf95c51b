"""A sync run, batch by batch: plan a batch, apply it, read Autotask's units back, record the results.

The run row says what happened over all batches (counts per tab and status, operations written, API
calls, the final status); each batch's per-record results are written as the batch ends, so memory holds
one batch at a time however large the organization (see :mod:`psabridge.sync.batches`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.orm import Session

from psabridge.autotask.errors import AutotaskError
from psabridge.sync import journal as jr
from psabridge.sync import link_store, readback
from psabridge.sync.applier import ApplyOutcome
from psabridge.sync.batches import Batch
from psabridge.sync.keys import PHASES
from psabridge.sync.models import RecordResult, SyncRun
from psabridge.sync.planner import DRIFT, PENDING, Plan
from psabridge.sync.reader import AutotaskApi

log = logging.getLogger(__name__)
Key = tuple[str, int]
Final = dict[Key, tuple[str, str | None, int | None]]


@dataclass
class ReadBack:
    """What the read-back after a batch's push found (see :mod:`psabridge.sync.readback`)."""

    drifts: list[readback.Drift]
    verified: set[int]  # subscriptions whose units were read back
    calls: int
    error: str | None = None  # the read failed: the push's results stand, unverified


def read_back(client: AutotaskApi, outcome: ApplyOutcome, ids: dict[str, int]) -> ReadBack:
    """Autotask's own units after the push. A failed read leaves the push's results as they are, but
    the run says it could not verify them (a run is only as right as Autotask's read-back)."""
    wanted = readback.expectations(outcome.results, ids)
    if not wanted or outcome.paused is not None:
        return ReadBack([], set(), 0)
    try:
        drifts, calls = readback.verify(client, wanted)
    except AutotaskError as exc:
        log.warning("read-back of %d contract services failed: %s", len(wanted), exc)
        return ReadBack(
            [], set(), 0, f"Could not read back the units of {len(wanted)} contract service(s): {exc}"
        )
    return ReadBack(drifts, {e.subscription_id for e in wanted}, calls)


@dataclass
class RunRecorder:
    """Accumulates a run's results over its batches; :meth:`finish` settles the run row."""

    session: Session
    run: SyncRun
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: {p: defaultdict(int) for p in PHASES})
    writes: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    write_calls: int = 0
    readback_calls: int = 0
    problems: bool = False  # a failed write, a waiting dependant, a drift or an unverified push
    errors: list[str] = field(default_factory=list)
    progress: Callable[[Plan], None] | None = None

    def record(self, batch: Batch, outcome: ApplyOutcome, check: ReadBack) -> None:
        """Write one batch's per-record results and update its links (drift, waiting)."""
        final = _final_statuses(outcome)
        written = _written(outcome)
        self._apply_read_back(check, final)
        rows = []
        waiting: list[link_store.StatusChange] = []
        for rec in batch.plan.records:
            status, reason, at_id = final.get(
                (rec.record_type, rec.hub_id), (rec.status, rec.reason, rec.autotask_id)
            )
            self.counts.setdefault(rec.phase, defaultdict(int))[status] += 1
            rows.append(
                {
                    "run_id": self.run.id,
                    "record_type": rec.record_type,
                    "hub_id": rec.hub_id,
                    "label": rec.label[:300],
                    "status": status,
                    "reason": reason,
                    "autotask_id": at_id if at_id is not None else rec.autotask_id,
                    "written": (rec.record_type, rec.hub_id) in written,
                }
            )
            if status == "waiting" and reason:
                waiting.append(link_store.StatusChange(rec.record_type, rec.hub_id, status, reason))
        link_store.set_statuses(self.session, self.run.connector_id, waiting)
        if rows:
            self.session.execute(insert(RecordResult), rows)
        for res in outcome.results:
            self.writes[res.op.phase][f"{res.op.verb}_{res.status}"] += 1
        self.write_calls += sum(res.op.cost for res in outcome.results if res.status in ("synced", "error"))
        self.readback_calls += check.calls
        if (
            outcome.failed
            or check.drifts
            or check.error
            or any(r.status == "waiting" for r in outcome.results)
        ):
            self.problems = True
        if check.error:
            self.errors.append(check.error)
        self.session.commit()

    def _apply_read_back(self, check: ReadBack, final: Final) -> None:
        """A drift marks the subscription's link (both figures); a verified one clears an older drift."""
        drift_of = {d.expectation.subscription_id: d for d in check.drifts}
        links = link_store.current(self.session, self.run.connector_id, "subscription", check.verified)
        changes: list[link_store.StatusChange] = []
        for sub_id, link in links.items():
            drift = drift_of.get(sub_id)
            if drift is not None:
                changes.append(link_store.StatusChange("subscription", sub_id, DRIFT, drift.reason))
                final[("subscription", sub_id)] = (DRIFT, drift.reason, link.autotask_id)
            elif link.status == DRIFT:
                changes.append(link_store.StatusChange("subscription", sub_id, "synced", None))
        link_store.set_statuses(self.session, self.run.connector_id, changes)

    def finish(self, read_calls: int, paused: Exception | None, stopped: str | None = None) -> SyncRun:
        """Settle the run: counts, API calls and the final status."""
        run = self.run
        run.counts = {
            p: {**dict(self.counts.get(p, {})), **{f"ops_{k}": v for k, v in self.writes[p].items()}}
            for p in PHASES
        }
        run.api_calls = read_calls + self.write_calls + self.readback_calls
        resume = getattr(paused, "resume_at", None)
        if paused is not None:
            run.status = "paused"
            run.error = "API budget cap reached; run `psabridge sync` again to resume" + (
                f" after {resume.isoformat()}" if resume else ""
            )
        elif stopped is not None:
            run.status, run.error = "partial", stopped
        elif self.problems:
            run.status = "partial"
            run.error = "; ".join(self.errors) or None
        else:
            run.status = "succeeded"
        run.finished_at = jr.now()
        self.session.commit()
        return run


def _written(outcome: ApplyOutcome) -> set[Key]:
    """The records this batch wrote to Autotask (their journal entry is done): "Written by this run"."""
    return {
        key
        for res in outcome.results
        if res.status == "synced" and res.op.verb != "link"  # a link decision writes nothing
        for key in [(res.op.record_type, res.op.hub_id), *res.op.covers]
    }


def _final_statuses(outcome: ApplyOutcome) -> Final:
    final: Final = {}
    for res in outcome.results:
        status = {"not_sent": PENDING}.get(res.status, res.status)
        for key in [(res.op.record_type, res.op.hub_id), *res.op.covers]:
            final[key] = (status, res.reason, res.autotask_id)
    return final
