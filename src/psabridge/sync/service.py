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
from collections.abc import Callable, Collection
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask.errors import BudgetExhaustedError
from psabridge.config import Settings
from psabridge.connectors.models import Connector
from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.sync import journal as jr
from psabridge.sync.applier import ApplyContext, apply, ids_from_links
from psabridge.sync.batches import BatchPlanner, PlanTotals
from psabridge.sync.connector import client_of, connector_of, tenant_facts
from psabridge.sync.errors import SyncError as SyncError
from psabridge.sync.keys import RECORD_TYPES, ref

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
from psabridge.sync.planner import Operation, Plan, digest_of
from psabridge.sync.reader import AutotaskApi
from psabridge.sync.runlock import AlreadyRunning, connector_lock
from psabridge.sync.runner import RunRecorder, read_back

log = logging.getLogger(__name__)


@dataclass
class PlanResult:
    plan: Plan
    run: SyncRun
    totals: PlanTotals = field(default_factory=PlanTotals)


# -- plan --------------------------------------------------------------------------------------
class PlanChangedError(SyncError):
    """A push expected the previewed plan, and the plan is no longer that one: nothing was written."""


def _planner(
    session: Session,
    organization_id: int,
    connector: Connector,
    settings: AutotaskConnectorSettings,
    client: AutotaskApi,
    app_settings: Settings,
    **options: Any,
) -> BatchPlanner:
    facts = tenant_facts(session, connector, settings, client)
    return BatchPlanner(
        session,
        organization_id,
        connector,
        settings,
        client,
        facts,
        batch_subscriptions=app_settings.sync_batch_subscriptions,
        **options,
    )


def make_plan(
    session_factory: sessionmaker[Session],
    organization_id: int,
    *,
    app_settings: Settings,
    client: AutotaskApi | None = None,
    retry_failed: bool = False,
    on_batch: Callable[[Plan], None] | None = None,
    keep_operations: bool = True,
) -> PlanResult:
    """The dry run: exactly what :func:`run_sync` would write now, with its API-call cost.

    It reconciles the journal like a sync does, so it takes the connector's sync lock; while a sync is
    running it plans read-only instead (see :class:`psabridge.sync.batches.BatchPlanner`). The plan is
    made batch by batch; ``on_batch`` sees each, and with ``keep_operations=False`` the result keeps
    only the totals (memory bounded by one batch, for very large organizations).
    """
    with session_factory() as session:
        connector, settings = connector_of(session, organization_id)
        client = client or client_of(connector, app_settings)
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        combined = Plan()
        totals = PlanTotals()
        with ExitStack() as stack:
            try:
                stack.enter_context(connector_lock(engine, connector.id))
                read_only = False
            except AlreadyRunning:
                read_only = True
            planner = _planner(
                session,
                organization_id,
                connector,
                settings,
                client,
                app_settings,
                read_only=read_only,
                retry_failed=retry_failed,
            )
            for batch in planner.batches():
                totals.add(batch)
                if on_batch is not None:
                    on_batch(batch.plan)
                if keep_operations:
                    combined.operations.extend(batch.plan.operations)
                    combined.records.extend(batch.plan.records)
        combined.read_calls = planner.read_calls
        combined.notices = planner.notices()
        combined.batch_digests = totals.digests
        run = SyncRun(
            organization_id=organization_id,
            connector_id=connector.id,
            mode="plan",
            retry_failed_only=retry_failed,
            status="planned",
            counts=totals.counts,
            api_calls=planner.read_calls,
            planned_operations=totals.operations,
            finished_at=jr.now(),
        )
        session.add(run)
        session.commit()
        return PlanResult(combined, run, totals)


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
    expected_digest: str | None = None,
    on_confirmed: Callable[[], None] | None = None,
) -> SyncRun:
    """Plan and apply, batch by batch. Returns the finished run (succeeded, partial, paused or failed).

    ``on_plan`` sees each batch's plan before it is applied (it may raise to refuse it). ``only``: apply
    just the operations writing these ``(record_type, hub_id)`` records (approved reconciliation
    fixes); everything else is planned as usual but left for the next sync. ``expected_digest``: the
    digest of a previewed plan (a Push): the whole plan is made first and compared, and nothing is
    written when it differs (:class:`PlanChangedError`); ``on_confirmed`` is called once it matched.

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
                options=RunOptions(retry_failed, progress, on_plan, only, expected_digest, on_confirmed),
            )
    except AlreadyRunning:
        raise SyncError("A sync of this organization is already running") from None


@dataclass(frozen=True)
class RunOptions:
    retry_failed: bool = False
    progress: Callable[[Operation, str], None] | None = None
    on_plan: Callable[[Plan], None] | None = None
    only: Collection[tuple[str, int]] | None = None
    expected_digest: str | None = None
    on_confirmed: Callable[[], None] | None = None


def _run_sync_locked(
    session_factory: sessionmaker[Session],
    organization_id: int,
    *,
    app_settings: Settings,
    client: AutotaskApi | None,
    options: RunOptions,
) -> SyncRun:
    with session_factory() as session:
        connector, settings = connector_of(session, organization_id)
        _interrupt_stale_runs(session, connector.id)
        client = client or client_of(connector, app_settings)
        run = SyncRun(
            organization_id=organization_id,
            connector_id=connector.id,
            mode="apply",
            retry_failed_only=options.retry_failed,
            status="running",
            counts={},
        )
        session.add(run)
        session.commit()
        plan_options: dict[str, Any] = {
            "app_settings": app_settings,
            "retry_failed": options.retry_failed,
            "only": options.only,
        }
        try:
            expected = _confirm_digest(
                session, organization_id, connector, settings, client, options, plan_options
            )
            planner = _planner(session, organization_id, connector, settings, client, **plan_options)
            return _apply_batches(session_factory, session, run, planner, client, options, expected)
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


def _interrupt_stale_runs(session: Session, connector_id: int) -> None:
    for stale in session.scalars(
        select(SyncRun).where(SyncRun.connector_id == connector_id, SyncRun.status == "running")
    ):
        stale.status = "interrupted"
        stale.error = "The sync process stopped before finishing; its writes were reconciled by the next run"
    session.commit()


def _confirm_digest(
    session: Session,
    organization_id: int,
    connector: Connector,
    settings: AutotaskConnectorSettings,
    client: AutotaskApi,
    options: RunOptions,
    plan_options: dict[str, Any],
) -> list[str] | None:
    """For a Push: the whole plan, made first (digests only, one batch in memory at a time), must be the
    previewed one; returns its batch digests, which each batch must match again when it is applied."""
    if options.expected_digest is None:
        return None
    planner = _planner(session, organization_id, connector, settings, client, **plan_options)
    digests = [batch.digest for batch in planner.batches()]
    if digest_of(digests) != options.expected_digest:
        raise PlanChangedError(
            "The plan changed since it was previewed; nothing was written. Review the new plan and push again."
        )
    if options.on_confirmed is not None:
        options.on_confirmed()
    return digests


def _apply_batches(
    session_factory: sessionmaker[Session],
    session: Session,
    run: SyncRun,
    planner: BatchPlanner,
    client: AutotaskApi,
    options: RunOptions,
    expected: list[str] | None,
) -> SyncRun:
    """Plan each batch, apply it, read its units back and record it; the catalog's ids stay known."""
    recorder = RunRecorder(session, run)
    catalog_ids: dict[str, int] = {}
    paused = None
    stopped = None
    for batch in planner.batches():
        if expected is not None and (batch.index >= len(expected) or batch.digest != expected[batch.index]):
            stopped = (
                "The plan changed while it was being pushed; the batches before were pushed as previewed"
            )
            break
        run.planned_operations += len(batch.plan.operations)
        session.commit()
        if options.on_plan:
            options.on_plan(batch.plan)  # a caller may refuse the plan
        ctx = ApplyContext(
            organization_id=run.organization_id,
            connector_id=run.connector_id,
            run_id=run.id,
            session_factory=session_factory,
            client=client,
            ids={**catalog_ids, **ids_from_links(batch.links)},
            labels={ref(r.record_type, r.hub_id): r.label for r in batch.plan.records},
            progress=options.progress,
        )
        outcome = apply(batch.plan, ctx)
        if batch.index == 0:
            catalog_ids = dict(ctx.ids)
        recorder.record(batch, outcome, read_back(client, outcome, ctx.ids))
        if outcome.paused is not None:
            paused = outcome.paused
            break
    return recorder.finish(planner.read_calls, paused, stopped)


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
