"""REST API of reconciliation under ``/api/v1/reconciliations``: start (admin: it spends the tenant's API
budget), list, show, approve fixes, apply them (admin), CSV export, and a contract service's trace.

Errors are ``application/problem+json`` naming the field (``date``, ``fix_ids``, ``run_id``,
``subscription_id``); a refused approval or apply writes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from psabridge.autotask.errors import AutotaskError
from psabridge.connectors import service as connectors
from psabridge.jobs import service as jobs
from psabridge.reconcile import export, service
from psabridge.reconcile import trace as tracemod
from psabridge.reconcile.apply import apply_approved
from psabridge.reconcile.approve import approve
from psabridge.reconcile.settle import Busy
from psabridge.web.deps import AppSettings, DbSession
from psabridge.web.principal import Admin, Principal, Reader, bearer_token
from psabridge.web.problems import problem

router = APIRouter(prefix="/reconciliations", tags=["reconciliations"])


class StartRequest(BaseModel):
    date: dt.date | None = Field(
        default=None, description="Date to compare on (default: today, the organization's)."
    )


class FixesRequest(BaseModel):
    fix_ids: list[int] = Field(default_factory=list, description="Ids of fixes of this reconciliation.")


def _problem(exc: Exception) -> JSONResponse:
    if isinstance(exc, service.ReconcileError):
        title = {404: "Not found", 422: "Invalid input"}.get(exc.status, "Conflict")
        return problem(exc.status, title, str(exc), errors=[{"field": exc.field, "message": str(exc)}])
    if isinstance(exc, Busy):
        return problem(409, "Conflict", str(exc), errors=[{"field": "organization", "message": str(exc)}])
    message = f"Autotask answered with an error: {exc}"
    return problem(502, "Autotask error", message, errors=[{"field": "autotask", "message": message}])


def actor(request: Request, db: Session, principal: Principal) -> str:
    """Who is acting, for the record: the signed-in user's e-mail, or the API token's name."""
    from psabridge.auth.models import User
    from psabridge.hub.orgs import authenticate_token

    if principal.user_id is not None:
        user = db.get(User, principal.user_id)
        return user.email if user else f"user #{principal.user_id}"
    token = bearer_token(request)
    record = authenticate_token(db, token) if token else None
    return f"API token {record.name!r} ({record.token_prefix}…)" if record else "API token"


@router.post("", status_code=201)
def start(
    request: Request, principal: Admin, db: DbSession, settings: AppSettings, body: StartRequest | None = None
) -> Any:
    """Reconcile now: a reconciliation job (run by a worker when a broker is configured, else in this
    process), followed to its end: 201 with the differences and proposed fixes (nothing is written to
    Autotask; a reconciliation that failed part-way is answered with its run, as it stands), or 202 with
    the job when it has not finished within ten minutes."""
    who = actor(request, db, principal)
    factory = request.app.state.sessionmaker
    on_date = body.date if body else None
    options = {"on_date": on_date.isoformat() if on_date else None, "started_by": who}
    try:  # refused before it ran (busy, broker): problem+json; a failed run is answered as it stands
        job = jobs.run_and_follow(
            factory, principal.organization_id, "reconcile", settings=settings, options=options, timeout=600
        )
    except (service.ReconcileError, Busy) as exc:
        return _problem(exc)
    if job.run_id is None or job.state not in jobs.FINISHED:
        return JSONResponse(
            jobs.job_to_dict(job), status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"}
        )
    with factory() as session:
        return {
            **export.run_with_differences(
                session, service.get_run(session, principal.organization_id, job.run_id)
            ),
            "job_id": job.id,
        }


@router.get("")
def list_runs(
    db: DbSession,
    principal: Reader,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Any:
    """Reconciliations, newest first, with their cost and counts per category."""
    runs = service.list_runs(db, principal.organization_id, limit=limit, offset=offset)
    return {
        "items": [export.run_to_dict(r) for r in runs],
        "total": service.count_runs(db, principal.organization_id),
    }


@router.get("/estimate")
def estimate(db: DbSession, principal: Reader, on: dt.date | None = Query(None, alias="date")) -> Any:
    """The API calls a reconciliation would make now (from the database alone)."""
    try:
        return {"api_calls": service.estimate(db, principal.organization_id, on)}
    except service.ReconcileError as exc:
        return _problem(exc)


@router.get("/traces/{subscription_id}")
def trace(
    subscription_id: int,
    db: DbSession,
    principal: Reader,
    settings: AppSettings,
    on: dt.date | None = Query(None, alias="date"),
) -> Any:
    """A subscription's contract service: the hub's timeline beside Autotask's (read for admins only: it
    costs an API call)."""
    from psabridge.hub.calendar import organization_today

    try:
        connector, _ = service.connector_of(db, principal.organization_id)
        client = connectors.build_client(connector, settings) if principal.is_admin else None
        try:
            result = tracemod.trace(
                db,
                principal.organization_id,
                subscription_id,
                on_date=on or organization_today(db, principal.organization_id),
                client=client,
            )
        finally:
            if client is not None:
                client.close()
    except (service.ReconcileError, AutotaskError) as exc:
        return _problem(exc)
    return result.to_dict()


@router.get("/{run_id}")
def show(run_id: int, db: DbSession, principal: Reader, category: str | None = None) -> Any:
    """One reconciliation with its differences (optionally one category), each with its fixes."""
    try:
        run = service.get_run(db, principal.organization_id, run_id)
    except service.ReconcileError as exc:
        return _problem(exc)
    return export.run_with_differences(db, run, category=category)


@router.get("/{run_id}/export.csv")
def export_csv(run_id: int, db: DbSession, principal: Reader) -> Response:
    """One row per fix: difference, values, fix, cost, who approved it, when, what was written."""
    try:
        run = service.get_run(db, principal.organization_id, run_id)
    except service.ReconcileError as exc:
        return _problem(exc)
    return Response(
        export.csv_text(db, run),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-{run.id}.csv"'},
    )


@router.post("/{run_id}/approve")
def approve_fixes(run_id: int, body: FixesRequest, request: Request, db: DbSession, principal: Admin) -> Any:
    """Approve fixes (one per difference); nothing is written until ``apply``."""
    try:
        done = approve(db, principal.organization_id, run_id, body.fix_ids, actor(request, db, principal))
    except service.ReconcileError as exc:
        db.rollback()
        return _problem(exc)
    return {"approved": [export.fix_to_dict(fx) for fx in done]}


@router.post("/{run_id}/apply")
def apply(
    run_id: int,
    request: Request,
    db: DbSession,
    principal: Admin,
    settings: AppSettings,
    body: FixesRequest | None = None,
) -> Any:
    """Apply the approved fixes (``fix_ids``: approve these first), each written exactly once."""
    who = actor(request, db, principal)
    try:
        if body and body.fix_ids:
            approve(db, principal.organization_id, run_id, body.fix_ids, who)
        report = apply_approved(
            request.app.state.sessionmaker,
            principal.organization_id,
            run_id,
            app_settings=settings,
            actor=who,
        )
    except (service.ReconcileError, Busy, AutotaskError) as exc:
        db.rollback()
        return _problem(exc)
    with request.app.state.sessionmaker() as session:
        run = service.get_run(session, principal.organization_id, run_id)
        return {"report": report.to_dict(), **export.run_with_differences(session, run)}
