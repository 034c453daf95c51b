"""REST API of the sync engine under ``/api/v1/sync``: plan (dry run), runs (apply and history),
record statuses, and the user's link decisions for "Needs link" rows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from psabridge.sync import service
from psabridge.web.deps import AppSettings, DbSession
from psabridge.web.principal import Admin, Reader

router = APIRouter(prefix="/sync", tags=["sync"])


class RunRequest(BaseModel):
    retry_failed: bool = Field(default=False, description="Only retry records whose last write failed.")


class LinkRequest(BaseModel):
    record_type: str = Field(description="account, product, billing_contract or service.<frequency>")
    hub_id: int
    autotask_id: int | None = Field(
        default=None, description="Existing Autotask record to link; omit with add_new=true."
    )
    add_new: bool = Field(default=False, description='"Add New": create a new Autotask record.')


def _bad(exc: service.SyncError) -> HTTPException:
    return HTTPException(status_code=409, detail=str(exc))


@router.get("/plan")
def get_plan(request: Request, principal: Admin, settings: AppSettings, retry_failed: bool = False) -> Any:
    """The dry run: every Autotask operation the next sync would perform, with its API-call cost."""
    try:
        result = service.make_plan(
            request.app.state.sessionmaker,
            principal.organization_id,
            app_settings=settings,
            retry_failed=retry_failed,
        )
    except service.SyncError as exc:
        raise _bad(exc) from exc
    return {"run_id": result.run.id, **result.plan.to_dict()}


@router.post("/runs", status_code=201)
def post_run(
    request: Request, principal: Admin, settings: AppSettings, body: RunRequest | None = None
) -> Any:
    """Plan and apply now (synchronously); returns the run with its per-record results."""
    try:
        run = service.run_sync(
            request.app.state.sessionmaker,
            principal.organization_id,
            app_settings=settings,
            retry_failed=bool(body and body.retry_failed),
        )
    except service.SyncError as exc:
        raise _bad(exc) from exc
    with request.app.state.sessionmaker() as session:
        run, results = service.get_run(session, principal.organization_id, run.id)
        return service.run_to_dict(run, results)


@router.get("/runs")
def list_runs(
    db: DbSession,
    principal: Reader,
    limit: int = Query(50, ge=1, le=500),
    records: bool = Query(False, description="Include each run's per-record results."),
) -> Any:
    """Run history, newest first, with counts per entity (and per-record results on request)."""
    runs = service.list_runs(db, principal.organization_id, limit=limit)
    if not records:
        return [service.run_to_dict(r) for r in runs]
    return [service.run_to_dict(*service.get_run(db, principal.organization_id, r.id)) for r in runs]


@router.get("/runs/{run_id}")
def read_run(run_id: int, db: DbSession, principal: Reader) -> Any:
    """One run with its per-record results."""
    try:
        run, results = service.get_run(db, principal.organization_id, run_id)
    except service.SyncError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    return service.run_to_dict(run, results)


@router.get("/records")
def records(db: DbSession, principal: Reader, phase: str | None = None) -> Any:
    """Every record's status: synced, pending, needs_link, blocked, waiting or error, with reasons."""
    return service.record_statuses(db, principal.organization_id, phase=phase)


@router.post("/links")
def decide_link(body: LinkRequest, db: DbSession, principal: Admin) -> Any:
    """Confirm a link to an existing Autotask record, or choose "Add New"."""
    try:
        if body.add_new:
            link = service.choose_add_new(db, principal.organization_id, body.record_type, body.hub_id)
        elif body.autotask_id is not None:
            link = service.link_record(
                db, principal.organization_id, body.record_type, body.hub_id, body.autotask_id
            )
        else:
            raise HTTPException(status_code=422, detail="Give autotask_id, or add_new=true")
    except service.SyncError as exc:
        raise _bad(exc) from exc
    return {
        "record_type": link.record_type,
        "hub_id": link.hub_id,
        "autotask_id": link.autotask_id,
        "decision": link.decision,
        "status": link.status,
    }
