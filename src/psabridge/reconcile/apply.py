"""Applying approved fixes: a plan of Autotask writes applied through the sync's journaled applier.

Nothing is written that a person did not approve. Under the connector's sync lock, writes in doubt are
resolved first (a killed apply is found in the journal and Autotask and never written twice); then each
approved write is checked against Autotask as it is now: still the value the reconciliation saw -> written;
already the value the fix writes (an interrupted apply got there) -> recorded, not written again; anything
else -> "stale", reconcile again. Adjustments of one contract service and date are merged into one
(Autotask takes one per date), PATCHes of one record into one. "Leave as is" and "create it again" are
decisions kept in the database; a push of what the sync would write goes through the sync itself,
limited to the approved records.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask.errors import AutotaskError
from psabridge.config import Settings
from psabridge.connectors import service as connectors
from psabridge.reconcile import findings as f
from psabridge.reconcile.checks import Current, read_current
from psabridge.reconcile.models import ReconcileAcceptance, ReconcileDifference, ReconcileFix, ReconcileRun
from psabridge.reconcile.operations import CORRECTION, adjust_op, patch_op, relink_op
from psabridge.reconcile.service import ReconcileError, connector_of, get_run
from psabridge.reconcile.settle import exclusive, settle_journal
from psabridge.sync import journal as jr
from psabridge.sync import service as sync_service
from psabridge.sync.applier import ApplyContext, OpResult, apply, ids_from_links
from psabridge.sync.models import JournalEntry, SyncLink
from psabridge.sync.planner import Plan
from psabridge.sync.reader import AutotaskApi
from psabridge.sync.records.base import Operation

log = logging.getLogger(__name__)


@dataclass
class ApplyReport:
    """What one apply did."""

    applied: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    #: API calls made (checks, writes, and the sync's run for approved pushes)
    calls: int = 0
    sync_run_id: int | None = None
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "failed": self.failed,
            "stale": self.stale,
            "api_calls": self.calls,
            "sync_run_id": self.sync_run_id,
            "messages": self.messages,
        }


def apply_approved(
    factory: sessionmaker[Session],
    organization_id: int,
    run_id: int,
    *,
    app_settings: Settings,
    client: AutotaskApi | None = None,
    actor: str = "",
) -> ApplyReport:
    """Apply every approved fix of reconciliation ``run_id`` not applied yet (see the module doc)."""
    report = ApplyReport()
    with factory() as session:
        run = get_run(session, organization_id, run_id)
        connector, _ = connector_of(session, organization_id)
        if not _approved(session, run):
            raise ReconcileError(
                f"Reconciliation {run.id} has no approved fix to apply", field="fix_ids", status=422
            )
        own = client is None
        client = client or connectors.build_client(connector, app_settings)
        try:
            with exclusive(session, connector.id):
                report.calls += settle_journal(session, organization_id, connector.id, client)
                _from_journal(session, connector.id, run, report)
                _write(session, factory, run, connector.id, client, actor, report)
            pushes = [fx for fx in _approved(session, run) if fx.kind == f.PUSH]
            if pushes:
                _push(session, factory, run, pushes, app_settings, client, report)
        finally:
            if own:
                cast(Any, client).close()
    return report


def _approved(session: Session, run: ReconcileRun) -> list[ReconcileFix]:
    return list(
        session.scalars(
            select(ReconcileFix)
            .where(ReconcileFix.run_id == run.id, ReconcileFix.status == "approved")
            .order_by(ReconcileFix.id)
        )
    )


def _fix_ids(op_or_covers: Any) -> list[int]:
    records = op_or_covers if isinstance(op_or_covers, list) else []
    return [int(r["hub_id"]) for r in records if r.get("record_type") == CORRECTION]


def _from_journal(session: Session, connector_id: int, run: ReconcileRun, report: ApplyReport) -> None:
    """Approved fixes an earlier (interrupted) apply already wrote: recorded as applied, not written again."""
    approved = {fx.id: fx for fx in _approved(session, run)}
    if not approved:
        return
    entries = session.scalars(
        select(JournalEntry)
        .where(
            JournalEntry.connector_id == connector_id,
            JournalEntry.op_id.like(f"reconcile:{run.id}:%"),
            JournalEntry.outcome.in_((jr.DONE, jr.RECOVERED)),
        )
        .order_by(JournalEntry.id)
    )
    for entry in entries:
        for fix_id in _fix_ids((entry.covers or {}).get("records")):
            fx = approved.get(fix_id)
            if fx is not None:
                _applied(session, fx, _written(entry), report)
    session.commit()


def _written(entry: JournalEntry) -> dict[str, Any]:
    return {
        "entity": entry.entity,
        "verb": entry.verb,
        "body": entry.body,
        "autotask_id": entry.autotask_id,
        "journal_entry": entry.id,
        "outcome": entry.outcome,
    }


def _applied(session: Session, fx: ReconcileFix, written: dict[str, Any], report: ApplyReport) -> None:
    fx.status, fx.applied_at, fx.written, fx.error = "applied", jr.now(), written, None
    report.applied.append(fx.id)
    if fx.kind == f.ADJUST:
        difference = session.get(ReconcileDifference, fx.difference_id)
        if difference is not None and difference.subscription_id is not None:
            _clear_drift(session, fx, difference.subscription_id)


def _clear_drift(session: Session, fx: ReconcileFix, subscription_id: int) -> None:
    run = session.get(ReconcileRun, fx.run_id)
    if run is None:
        return
    session.execute(
        update(SyncLink)
        .where(
            SyncLink.connector_id == run.connector_id,
            SyncLink.record_type == "subscription",
            SyncLink.hub_id == subscription_id,
            SyncLink.status == "drift",
        )
        .values(status="synced", reason=None)
    )


# -- writes through the applier --------------------------------------------------------------------------
def _write(
    session: Session,
    factory: sessionmaker[Session],
    run: ReconcileRun,
    connector_id: int,
    client: AutotaskApi,
    actor: str,
    report: ApplyReport,
) -> None:
    fixes = [fx for fx in _approved(session, run) if fx.kind != f.PUSH]
    for fx in fixes:
        if fx.kind == f.ACCEPT:
            _accept(session, run, fx, actor, report)
        elif fx.kind == f.RECREATE:
            _recreate(session, run, fx, report)
    session.commit()
    writes = [fx for fx in fixes if fx.kind in f.WRITES]
    if not writes:
        return
    current = read_current(client, [fx.params for fx in writes if fx.kind != f.RELINK])
    report.calls += current.calls
    ops = _operations(session, run, writes, current, report)
    session.commit()
    if not ops:
        return
    links = jr.load_links(session, connector_id)
    ctx = ApplyContext(
        organization_id=run.organization_id,
        connector_id=connector_id,
        run_id=None,
        session_factory=factory,
        client=client,
        ids=ids_from_links(links),
    )
    outcome = apply(Plan(operations=ops), ctx)
    report.calls += sum(r.op.cost for r in outcome.results if r.status in ("synced", "error"))
    _record(session, outcome.results, report)
    session.commit()


def _operations(
    session: Session, run: ReconcileRun, writes: list[ReconcileFix], current: Current, report: ApplyReport
) -> list[Operation]:
    adjust: dict[tuple[int, str], list[ReconcileFix]] = defaultdict(list)
    patch: dict[tuple[str, int], list[ReconcileFix]] = defaultdict(list)
    ops: list[Operation] = []
    for fx in writes:
        p = fx.params
        if fx.kind == f.RELINK:
            ops.append(relink_op(run, fx))
            continue
        verdict = current.verdict(p)
        if verdict == "already":
            _applied(
                session,
                fx,
                {"note": "Autotask already held the value this fix writes; nothing was sent"},
                report,
            )
        elif verdict == "stale":
            fx.status, fx.error = "stale", current.why(p)
            report.stale.append(fx.id)
        elif verdict == "missing":
            fx.status, fx.error = "failed", current.why(p)
            report.failed.append(fx.id)
        elif fx.kind == f.ADJUST:
            adjust[(int(p["contract_service_id"]), str(p["date"]))].append(fx)
        else:
            patch[(str(p["entity"]), int(p["autotask_id"]))].append(fx)
    ops += [adjust_op(run, group, current) for group in adjust.values()]
    ops += [patch_op(run, group) for group in patch.values()]
    return ops


def _record(session: Session, results: list[OpResult], report: ApplyReport) -> None:
    for result in results:
        op = result.op
        ids = [hid for rt, hid in [(op.record_type, op.hub_id), *op.covers] if rt == CORRECTION]
        entry = session.scalars(
            select(JournalEntry).where(JournalEntry.op_id == op.op_id).order_by(JournalEntry.id.desc())
        ).first()
        for fix_id in ids:
            fx = session.get(ReconcileFix, fix_id)
            if fx is None:
                continue
            if result.status == "synced":
                _applied(session, fx, _written(entry) if entry else {"note": op.summary}, report)
            elif result.status == "error":
                fx.status, fx.error = "failed", result.reason
                report.failed.append(fx.id)
            else:
                fx.error = result.reason  # not sent (budget): still approved, applied next time
                report.messages.append(f"Fix {fx.id} was not sent: {result.reason}")


# -- decisions kept in the database ------------------------------------------------------------------------
def _accept(session: Session, run: ReconcileRun, fx: ReconcileFix, actor: str, report: ApplyReport) -> None:
    difference = session.get(ReconcileDifference, fx.difference_id)
    assert difference is not None
    existing = session.scalar(
        select(ReconcileAcceptance).where(
            ReconcileAcceptance.connector_id == run.connector_id,
            ReconcileAcceptance.signature == difference.signature,
        )
    )
    if existing is None:
        session.add(
            ReconcileAcceptance(
                organization_id=run.organization_id,
                connector_id=run.connector_id,
                signature=difference.signature,
                category=difference.category,
                label=difference.label,
                autotask_value=difference.autotask_value,
                hub_value=difference.hub_value,
                fix_id=fx.id,
                accepted_by=actor[:200],
            )
        )
    if fx.params.get("clear_drift") is not None:
        _clear_drift(session, fx, int(fx.params["clear_drift"]))
    _applied(
        session,
        fx,
        {"accepted": {"autotask_value": difference.autotask_value, "hub_value": difference.hub_value}},
        report,
    )


def _recreate(session: Session, run: ReconcileRun, fx: ReconcileFix, report: ApplyReport) -> None:
    """Forget the links of a record gone from Autotask (and of its seats): the next push creates it."""
    reset = []
    for record_type, hub_id in fx.params.get("records", []):
        result = session.execute(
            update(SyncLink)
            .where(
                SyncLink.connector_id == run.connector_id,
                SyncLink.record_type == record_type,
                SyncLink.hub_id == int(hub_id),
            )
            .values(
                autotask_id=None,
                fingerprint=None,
                status="pending",
                reason=f"Missing in Autotask (reconciliation {run.id}): created again on the next push",
                op_id=None,
            )
        )
        if getattr(result, "rowcount", 0):
            reset.append([record_type, int(hub_id)])
    _applied(session, fx, {"links_reset": reset}, report)


# -- pushes through the sync ---------------------------------------------------------------------------------
def _push(
    session: Session,
    factory: sessionmaker[Session],
    run: ReconcileRun,
    pushes: list[ReconcileFix],
    app_settings: Settings,
    client: AutotaskApi,
    report: ApplyReport,
) -> None:
    records = {(str(rt), int(hid)) for fx in pushes for rt, hid in fx.params.get("records", [])}
    try:
        sync_run = sync_service.run_sync(
            factory, run.organization_id, app_settings=app_settings, client=client, only=records
        )
    except (sync_service.SyncError, AutotaskError) as exc:
        for fx in pushes:
            fx.status, fx.error = "failed", str(exc)
            report.failed.append(fx.id)
        session.commit()
        return
    report.sync_run_id = sync_run.id
    report.calls += sync_run.api_calls
    links = jr.load_links(session, run.connector_id)
    for fx in pushes:
        wanted = [(str(rt), int(hid)) for rt, hid in fx.params.get("records", [])]
        states = [links[k] for k in wanted if k in links]
        bad = [link for link in states if link.status not in ("synced", "drift")]
        if states and not bad:
            _applied(session, fx, {"sync_run": sync_run.id, "records": [list(k) for k in wanted]}, report)
        else:
            fx.status = "failed"
            fx.error = "; ".join(
                f"{b.record_type} #{b.hub_id}: {b.status} {b.reason or ''}".strip() for b in bad
            )
            report.failed.append(fx.id)
    session.commit()
