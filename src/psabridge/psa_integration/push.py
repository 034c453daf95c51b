"""Preview, then Push exactly what was previewed.

The engine plans again when it applies (it must: Autotask or the hub may have changed). If that fresh
plan is not the one the person reviewed — someone edited a record, another admin pushed — nothing is
written and the person is shown the new plan instead. The comparison is a digest of the operations
(verb, target, body and cost), carried in the Push form.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.sync import journal as jr
from psabridge.sync import service
from psabridge.sync.models import SyncRun
from psabridge.sync.planner import Plan

PLAN_CHANGED = (
    "The plan changed since it was previewed; nothing was written. Review the new plan and push again."
)


class PlanChanged(Exception):
    """The plan at push time differs from the previewed one."""


def plan_digest(plan: Plan) -> str:
    """A stable digest of the operations a plan would perform."""
    ops = [op.to_dict() for op in plan.operations]
    raw = json.dumps(ops, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def cost_by_phase(plan: Plan) -> dict[str, dict[str, int]]:
    """Operations and write calls per phase, for the preview's header."""
    out: dict[str, dict[str, int]] = {}
    for op in plan.operations:
        row = out.setdefault(op.phase, {"operations": 0, "calls": 0})
        row["operations"] += 1
        row["calls"] += op.cost
    return out


def push(
    factory: sessionmaker[Session],
    organization_id: int,
    *,
    app_settings: Settings,
    expected_digest: str,
    client: Any = None,
) -> SyncRun:
    """Apply the plan if it is still the previewed one; otherwise raise :class:`PlanChanged`."""
    started = jr.now()

    def check(plan: Plan) -> None:
        if plan_digest(plan) != expected_digest:
            raise PlanChanged(PLAN_CHANGED)

    try:
        return service.run_sync(
            factory, organization_id, app_settings=app_settings, client=client, on_plan=check
        )
    except PlanChanged:
        _close_refused_run(factory, organization_id, started)
        raise


def _close_refused_run(factory: sessionmaker[Session], organization_id: int, since: Any) -> None:
    """The engine left the refused run "running" (it stopped before applying): record why it ended."""
    with factory() as session:
        runs = session.scalars(
            select(SyncRun).where(
                SyncRun.organization_id == organization_id,
                SyncRun.mode == "apply",
                SyncRun.status == "running",
            )
        )
        for run in runs:
            started = run.started_at
            if started is not None and started.tzinfo is None and since.tzinfo is not None:
                started = started.replace(tzinfo=since.tzinfo)
            if started is not None and started >= since:
                run.status = "failed"
                run.error = PLAN_CHANGED
                run.finished_at = jr.now()
        session.commit()
