"""Public API of the sync engine (used by the CLI, the REST API, the PSA Integration screen and the demo).

* :func:`make_plan` — the dry run: reconcile the journal, read Autotask (batched), plan; writes nothing to
  Autotask. Record statuses are stored so the screen can show them.
* :func:`run_sync` — the same, then :func:`psabridge.sync.applier.apply` of exactly that plan; a run
  history row with counts per entity and a result per record.
* :func:`record_statuses`, :func:`list_runs`, :func:`get_run` — what users read.
* :func:`link_record`, :func:`choose_add_new` — the user's decision for a "Needs link" row.

Every function is scoped to one organization; the engine never sees another organization's data.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask.errors import AutotaskError, BudgetExhaustedError
from psabridge.config import Settings
from psabridge.connectors.models import Connector
from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.sync import journal as jr
from psabridge.sync import readback
from psabridge.sync.applier import ApplyContext, ApplyOutcome, apply, ids_from_links
from psabridge.sync.connector import client_of, connector_of, tenant_facts
from psabridge.sync.errors import SyncError as SyncError
from psabridge.sync.hub_loader import load_snapshot
from psabridge.sync.keys import PHASES, RECORD_TYPES, ref

# the user's link decisions (psabridge.sync.links), re-exported for the screens and the API
from psabridge.sync.links import LINKABLE as LINKABLE
from psabridge.sync.links import AutotaskReader as AutotaskReader
from psabridge.sync.links import HubRecordMissing as HubRecordMissing
from psabridge.sync.links import LinkRefused as LinkRefused
from psabridge.sync.links import check_link_rules as check_link_rules
from psabridge.sync.links import choose_add_new as choose_add_new
from psabridge.sync.links import decide_link as decide_link
from psabridge.sync.links import hub_record_exists as hub_record_exists
from psabridge.sync.links import link_record as link_record
from psabridge.sync.links import read_link_target as read_link_target
from psabridge.sync.models import RecordResult, SyncLink, SyncRun
from psabridge.sync.planner import DRIFT, PENDING, Operation, Plan, plan
from psabridge.sync.reader import AutotaskApi, read_view
from psabridge.sync.runlock import AlreadyRunning, connector_lock

log = logging.getLogger(__name__)


@dataclass
class PlanResult:
    plan: Plan
    run: SyncRun


# -- plan --------------------------------------------------------------------------------------
def _prepare(
    session: Session,
    organization_id: int,
    connector: Connector,
    settings: AutotaskConnectorSettings,
    client: AutotaskApi,
    *,
    retry_failed: bool,
    read_only: bool = False,
    only: Collection[tuple[str, int]] | None = None,
) -> tuple[Plan, dict[tuple[str, int], SyncLink]]:
    """Reconcile the journal, read Autotask and plan (the shared first half of plan and sync).

    ``read_only``: a sync is running, so its in-flight writes are still "unresolved" in the journal: they
    are neither reconciled (that would mark a write still in flight "absent", and a crash of the running
    sync would then leave it never checked again: written twice by the next run) nor are link statuses
    saved (they would overwrite what the running sync records). ``only``: apply just the operations
    that write these records (what a person approved on the Reconcile tab); the rest stays planned.
    """
    snapshot = load_snapshot(session, organization_id)
    entries = [] if read_only else jr.unresolved_entries(session, connector.id)
    unit_services, extra_keys = jr.reconcile_needs(entries)
    links = jr.load_links(session, connector.id)
    view = read_view(
        client,
        snapshot,
        jr.link_states(links),
        unit_services=unit_services,
        extra_keys=extra_keys,
        repeat_contracts=jr.repeat_contracts(entries),
        facts=tenant_facts(session, connector, settings, client),
    )
    if entries:
        linked = [
            int(link.autotask_id)
            for (record_type, _), link in links.items()
            if record_type == "subscription" and link.autotask_id is not None
        ]
        jr.reconcile(session, entries, view, linked)
        links = jr.load_links(session, connector.id)
    failed_before = {k for k, link in links.items() if link.status == "error"}
    result = plan(snapshot, view, jr.link_states(links), settings)
    if retry_failed:
        result.operations = [
            op
            for op in result.operations
            if (op.record_type, op.hub_id) in failed_before or any(c in failed_before for c in op.covers)
        ]
    if only is not None:
        wanted = set(only)
        result.operations = [
            op
            for op in result.operations
            if (op.record_type, op.hub_id) in wanted or any(c in wanted for c in op.covers)
        ]
    if not read_only:
        _save_statuses(
            session,
            organization_id,
            connector.id,
            result,
            links,
            retry_failed=retry_failed or only is not None,
        )
    return result, links


def _save_statuses(
    session: Session,
    organization_id: int,
    connector_id: int,
    result: Plan,
    links: dict[tuple[str, int], SyncLink],
    *,
    retry_failed: bool,
) -> None:
    """Store each record's planned status (what the screen shows until the next run)."""
    for rec in result.records:
        link = links.get((rec.record_type, rec.hub_id))
        if link is None:
            link = SyncLink(
                organization_id=organization_id,
                connector_id=connector_id,
                record_type=rec.record_type,
                hub_id=rec.hub_id,
                autotask_entity=RECORD_TYPES[rec.record_type].entity,
                candidates=[],
                decision="auto",
            )
            session.add(link)
            links[(rec.record_type, rec.hub_id)] = link
        if retry_failed and rec.status == PENDING and link.status != "error":
            continue
        if rec.status == PENDING and link.status == "error":
            continue  # keep the error reason visible until the retry succeeds
        link.status = rec.status
        link.reason = rec.reason
        link.candidates = list(rec.candidates)
    session.commit()


def make_plan(
    session_factory: sessionmaker[Session],
    organization_id: int,
    *,
    app_settings: Settings,
    client: AutotaskApi | None = None,
    retry_failed: bool = False,
) -> PlanResult:
    """The dry run: exactly what :func:`run_sync` would write now, with its API-call cost.

    It reconciles the journal like a sync does, so it takes the connector's sync lock; while a sync is
    running it plans read-only instead (see :func:`_prepare`).
    """
    with session_factory() as session:
        connector, settings = connector_of(session, organization_id)
        client = client or client_of(connector, app_settings)
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        with ExitStack() as stack:
            try:
                stack.enter_context(connector_lock(engine, connector.id))
                read_only = False
            except AlreadyRunning:
                read_only = True
            result, _ = _prepare(
                session,
                organization_id,
                connector,
                settings,
                client,
                retry_failed=retry_failed,
                read_only=read_only,
            )
        run = SyncRun(
            organization_id=organization_id,
            connector_id=connector.id,
            mode="plan",
            retry_failed_only=retry_failed,
            status="planned",
            counts=result.counts(),
            api_calls=result.read_calls,
            planned_operations=len(result.operations),
            finished_at=jr.now(),
        )
        session.add(run)
        session.commit()
        return PlanResult(result, run)


def run_sync(
    session_factory: sessionmaker[Session],
    organization_id: int,
    *,
    app_settings: Settings,
    client: AutotaskApi | None = None,
    retry_failed: bool = False,
    progress: Callable[[Operation, str], None] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    only: Collection[tuple[str, int]] | None = None,
) -> SyncRun:
    """Plan and apply. Returns the finished run (status succeeded, partial, paused or failed).

    ``only``: apply just the operations writing these ``(record_type, hub_id)`` records (approved
    reconciliation fixes); everything else is planned as usual but left for the next sync.

    One sync per connector at a time, across threads and processes (a second caller gets
    :class:`SyncError`); runs a killed process left "running" are marked "interrupted" (their writes are
    reconciled by the journal).
    """
    with session_factory() as session:
        connector, _ = connector_of(session, organization_id)
        connector_id = connector.id
        bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    try:
        with connector_lock(engine, connector_id):
            return _run_sync_locked(
                session_factory,
                organization_id,
                app_settings=app_settings,
                client=client,
                retry_failed=retry_failed,
                progress=progress,
                on_plan=on_plan,
                only=only,
            )
    except AlreadyRunning:
        raise SyncError("A sync of this organization is already running") from None


def _run_sync_locked(
    session_factory: sessionmaker[Session],
    organization_id: int,
    *,
    app_settings: Settings,
    client: AutotaskApi | None,
    retry_failed: bool,
    progress: Callable[[Operation, str], None] | None,
    on_plan: Callable[[Plan], None] | None,
    only: Collection[tuple[str, int]] | None = None,
) -> SyncRun:
    with session_factory() as session:
        connector, settings = connector_of(session, organization_id)
        for stale in session.scalars(
            select(SyncRun).where(SyncRun.connector_id == connector.id, SyncRun.status == "running")
        ):
            stale.status = "interrupted"
            stale.error = (
                "The sync process stopped before finishing; its writes were reconciled by the next run"
            )
        session.commit()
        client = client or client_of(connector, app_settings)
        run = SyncRun(
            organization_id=organization_id,
            connector_id=connector.id,
            mode="apply",
            retry_failed_only=retry_failed,
            status="running",
            counts={},
        )
        session.add(run)
        session.commit()
        try:
            result, links = _prepare(
                session, organization_id, connector, settings, client, retry_failed=retry_failed, only=only
            )
        except BudgetExhaustedError as exc:
            resume = getattr(exc, "resume_at", None)
            run.status, run.finished_at = "paused", jr.now()
            run.error = "API budget cap reached before planning finished; run the sync again to resume" + (
                f" after {resume.isoformat()}" if resume else ""
            )
            session.commit()
            return run
        except Exception as exc:
            run.status, run.error, run.finished_at = "failed", str(exc), jr.now()
            session.commit()
            raise
        run.planned_operations = len(result.operations)
        session.commit()
        if on_plan:
            try:
                on_plan(result)  # a caller may refuse the plan (e.g. it differs from the preview)
            except Exception as exc:
                run.status, run.error, run.finished_at = "failed", str(exc), jr.now()
                session.commit()
                raise
        ctx = ApplyContext(
            organization_id=organization_id,
            connector_id=connector.id,
            run_id=run.id,
            session_factory=session_factory,
            client=client,
            ids=ids_from_links(links),
            labels={ref(r.record_type, r.hub_id): r.label for r in result.records},
            progress=progress,
        )
        outcome = apply(result, ctx)
        check = _read_back(client, outcome, ctx.ids)
        _finish_run(session, run, result, outcome, check)
        return run


@dataclass
class ReadBack:
    """What the read-back after a push found (see :mod:`psabridge.sync.readback`)."""

    drifts: list[readback.Drift]
    verified: set[int]  # subscriptions whose units were read back
    calls: int
    error: str | None = None  # the read failed: the push's results stand, unverified


def _read_back(client: AutotaskApi, outcome: ApplyOutcome, ids: dict[str, int]) -> ReadBack:
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


def _finish_run(
    session: Session,
    run: SyncRun,
    result: Plan,
    outcome: ApplyOutcome,
    check: ReadBack,
) -> None:
    final: dict[tuple[str, int], tuple[str, str | None, int | None]] = {}
    for res in outcome.results:
        status = {"not_sent": PENDING}.get(res.status, res.status)
        for key in [(res.op.record_type, res.op.hub_id), *res.op.covers]:
            final[key] = (status, res.reason, res.autotask_id)
    drift_of = {d.expectation.subscription_id: d for d in check.drifts}
    for sub_id in check.verified:
        key = ("subscription", sub_id)
        link = session.scalars(
            select(SyncLink).where(
                SyncLink.connector_id == run.connector_id,
                SyncLink.record_type == "subscription",
                SyncLink.hub_id == sub_id,
            )
        ).first()
        if link is None:
            continue
        drift = drift_of.get(sub_id)
        if drift is not None:
            link.status, link.reason = DRIFT, drift.reason
            final[key] = (DRIFT, drift.reason, link.autotask_id)
        elif link.status == DRIFT:
            link.status, link.reason = "synced", None
    counts: dict[str, dict[str, int]] = {p: defaultdict(int) for p in PHASES}
    rows = []
    for rec in result.records:
        status, reason, at_id = final.get(
            (rec.record_type, rec.hub_id), (rec.status, rec.reason, rec.autotask_id)
        )
        if status == PENDING and (rec.record_type, rec.hub_id) not in final:
            status = PENDING
        counts[rec.phase][status] += 1
        rows.append(
            RecordResult(
                run_id=run.id,
                record_type=rec.record_type,
                hub_id=rec.hub_id,
                label=rec.label[:300],
                status=status,
                reason=reason,
                autotask_id=at_id if at_id is not None else rec.autotask_id,
            )
        )
        if status in ("waiting",) and reason:
            link = session.scalars(
                select(SyncLink).where(
                    SyncLink.connector_id == run.connector_id,
                    SyncLink.record_type == rec.record_type,
                    SyncLink.hub_id == rec.hub_id,
                )
            ).first()
            if link is not None:
                link.status, link.reason = status, reason
    session.add_all(rows)
    writes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for res in outcome.results:
        writes[res.op.phase][f"{res.op.verb}_{res.status}"] += 1
    run.counts = {p: {**dict(counts[p]), **{f"ops_{k}": v for k, v in writes[p].items()}} for p in PHASES}
    run.api_calls = (
        result.read_calls
        + sum(res.op.cost for res in outcome.results if res.status in ("synced", "error"))
        + check.calls
    )
    if outcome.paused is not None:
        run.status = "paused"
        resume = outcome.paused.resume_at
        run.error = "API budget cap reached; run `psabridge sync` again to resume" + (
            f" after {resume.isoformat()}" if resume else ""
        )
    elif outcome.failed or check.drifts or check.error or any(r.status == "waiting" for r in outcome.results):
        run.status = "partial"
        run.error = check.error
    else:
        run.status = "succeeded"
    run.finished_at = jr.now()
    session.commit()


# -- reading -----------------------------------------------------------------------------------
def record_statuses(
    session: Session, organization_id: int, *, phase: str | None = None
) -> list[dict[str, Any]]:
    """Every record's last known status (Synced, Pending, Needs link, Blocked, Waiting, Error)."""
    rows = session.scalars(
        select(SyncLink)
        .where(SyncLink.organization_id == organization_id)
        .order_by(SyncLink.record_type, SyncLink.hub_id)
    )
    out = []
    for link in rows:
        rt = RECORD_TYPES.get(link.record_type)
        if rt is None or (phase and rt.phase != phase):
            continue
        out.append(
            {
                "record_type": link.record_type,
                "hub_id": link.hub_id,
                "phase": rt.phase,
                "status": link.status,
                "reason": link.reason,
                "autotask_entity": link.autotask_entity,
                "autotask_id": link.autotask_id,
                "matching_key": link.matching_key,
                "decision": link.decision,
                "candidates": link.candidates or [],
            }
        )
    return out


def run_to_dict(run: SyncRun, results: list[RecordResult] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": run.id,
        "mode": run.mode,
        "status": run.status,
        "retry_failed_only": run.retry_failed_only,
        "counts": run.counts,
        "api_calls": run.api_calls,
        "planned_operations": run.planned_operations,
        "error": run.error,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if results is not None:
        data["records"] = [
            {
                "record_type": r.record_type,
                "hub_id": r.hub_id,
                "label": r.label,
                "status": r.status,
                "reason": r.reason,
                "autotask_id": r.autotask_id,
            }
            for r in results
        ]
    return data


def list_runs(session: Session, organization_id: int, *, limit: int = 50) -> list[SyncRun]:
    return list(
        session.scalars(
            select(SyncRun)
            .where(SyncRun.organization_id == organization_id)
            .order_by(SyncRun.id.desc())
            .limit(limit)
        )
    )


def get_run(session: Session, organization_id: int, run_id: int) -> tuple[SyncRun, list[RecordResult]]:
    run = session.get(SyncRun, run_id)
    if run is None or run.organization_id != organization_id:
        raise SyncError(f"No sync run {run_id}")
    results = list(
        session.scalars(select(RecordResult).where(RecordResult.run_id == run_id).order_by(RecordResult.id))
    )
    return run, results
