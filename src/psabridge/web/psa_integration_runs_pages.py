"""PSA Integration's run history: the list of runs and one run's per-record results, a page at a time.

Apart from the tabs (:mod:`psabridge.web.psa_integration_pages`) because a run page reads the run's
results, not the organization's records; it is included before the tabs' ``/{tab}`` route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from psabridge.psa_integration import rows as rowsmod
from psabridge.psa_integration import runs as runsmod
from psabridge.psa_integration.names import autotask_names
from psabridge.psa_integration.push import applied_operations
from psabridge.sync import run_results, service
from psabridge.sync.models import SyncRun
from psabridge.web.auth import CurrentUser
from psabridge.web.deps import DbSession, PathId
from psabridge.web.psa_integration_pages import PAGE_SIZE, STATUS_PATTERN, PageNumber, render_psa_page

router = APIRouter(prefix="/psa-integration", include_in_schema=False)


@router.get("/runs")
def runs_page(request: Request, db: DbSession, user: CurrentUser) -> Response:
    runs = service.list_runs(db, user.organization_id, limit=100)
    return render_psa_page(
        request,
        "psa_integration/runs.html",
        {
            "runs": runs,
            "psa_runs": True,
            "left_out": runsmod.left_out,
            "preview_states": runsmod.preview_states(runs),
        },
    )


@router.get("/runs/{run_id}")
def run_page(
    request: Request,
    run_id: PathId,
    db: DbSession,
    user: CurrentUser,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
    page: PageNumber = 1,
) -> Response:
    """A run: its counts, and its per-record results a page at a time (counts per status from the
    database, whatever the number of results)."""
    run = db.get(SyncRun, run_id)
    if run is None or run.organization_id != user.organization_id:
        raise HTTPException(status_code=404, detail="No such run")
    view = run_results.results_page(db, run, status=status or None, page=page, size=PAGE_SIZE)
    names = autotask_names(
        db, user.organization_id, {(rowsmod.entity_of(r.record_type), r.autotask_id) for r in view.results}
    )
    return render_psa_page(
        request,
        "psa_integration/run.html",
        {
            "run": run,
            "results": view.results,
            "total_results": view.total,
            "page_number": view.page,
            "pages": view.pages,
            "counts": view.counts,
            "written_count": view.written,
            "status_filter": status,
            "status_labels": rowsmod.STATUS_LABELS,
            "psa_runs": True,
            "applied": applied_operations(db, run.id) if run.status == "running" else None,
            "linked": lambda r: _linked(r, names),
            "describe_counts": runsmod.describe_counts,
            "left_out": runsmod.left_out,
        },
    )


def _linked(result: Any, names: dict[tuple[str, int], str]) -> tuple[str, str | None]:
    """("Contract service", "Microsoft 365 E3 (monthly)") of a run result's Autotask record."""
    entity, name = rowsmod.linked_record(rowsmod.entity_of(result.record_type), result.autotask_id, names)
    return rowsmod.PSA_NAMES.get(entity, entity), name
