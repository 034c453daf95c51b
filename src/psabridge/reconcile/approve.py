"""Approving fixes: an admin's decision, recorded with who and when, never applied by itself.

One decision per difference: approving a fix takes back an earlier approval of another fix of the same
difference. Everything is checked before anything is recorded (all or nothing), and every refusal names
the input that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.reconcile.models import ReconcileFix
from psabridge.reconcile.service import ReconcileError, get_run
from psabridge.sync import journal as jr

#: fix statuses that may (still) be approved
APPROVABLE = ("proposed", "failed", "stale")


def approve(
    session: Session, organization_id: int, run_id: int, fix_ids: Iterable[int], actor: str
) -> list[ReconcileFix]:
    """Approve ``fix_ids`` of reconciliation ``run_id``; returns the approved fixes."""
    run = get_run(session, organization_id, run_id)
    wanted = list(dict.fromkeys(int(i) for i in fix_ids))
    if not wanted:
        raise ReconcileError("Choose at least one fix to approve", field="fix_ids", status=422)
    fixes = {
        fx.id: fx
        for fx in session.scalars(
            select(ReconcileFix).where(ReconcileFix.run_id == run.id, ReconcileFix.id.in_(wanted))
        )
    }
    seen: dict[int, int] = {}
    for fix_id in wanted:
        fx = fixes.get(fix_id)
        if fx is None:
            raise ReconcileError(f"Reconciliation {run.id} has no fix {fix_id}", field="fix_ids", status=404)
        if not fx.approvable:
            raise ReconcileError(
                f"Fix {fix_id} is advice only: nothing to approve", field="fix_ids", status=422
            )
        if fx.status not in APPROVABLE and fx.status != "approved":
            raise ReconcileError(f"Fix {fix_id} is {fx.status}: it cannot be approved again", field="fix_ids")
        if fx.difference_id in seen:
            raise ReconcileError(
                f"Fixes {seen[fx.difference_id]} and {fix_id} answer the same difference: approve one",
                field="fix_ids",
                status=422,
            )
        seen[fx.difference_id] = fix_id
    siblings = session.scalars(
        select(ReconcileFix).where(
            ReconcileFix.difference_id.in_(list(seen)),
            ReconcileFix.status == "approved",
            ReconcileFix.id.not_in(wanted),
        )
    )
    for other in siblings:
        other.status, other.approved_by, other.approved_at = "proposed", None, None
    when = jr.now()
    for fix_id in wanted:
        fx = fixes[fix_id]
        fx.status, fx.approved_by, fx.approved_at, fx.error = "approved", actor[:200], when, None
    session.commit()
    return [fixes[i] for i in wanted]


def withdraw(session: Session, organization_id: int, run_id: int, fix_ids: Iterable[int]) -> int:
    """Take approvals back (fixes not applied yet); returns how many."""
    run = get_run(session, organization_id, run_id)
    count = 0
    for fx in session.scalars(
        select(ReconcileFix).where(
            ReconcileFix.run_id == run.id,
            ReconcileFix.id.in_([int(i) for i in fix_ids]),
            ReconcileFix.status == "approved",
        )
    ):
        fx.status, fx.approved_by, fx.approved_at = "proposed", None, None
        count += 1
    session.commit()
    return count
