"""Reconcile tab of the PSA Integration screen: differences between Autotask and the billing hub on a
date, each with its evidence and proposed fixes; a contract service's trace; approving and applying fixes.

Everyone signed in can look (runs, differences, fixes, the CSV). Starting a reconciliation and loading
Autotask's unit timeline on a trace spend the tenant's API budget, and approving or applying fixes changes
Autotask: admins only. Every form carries the CSRF token; everything is scoped to the user's organization.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from psabridge.autotask.errors import AutotaskError
from psabridge.connectors import service as connectors
from psabridge.hub.calendar import organization_today
from psabridge.jobs import service as jobs
from psabridge.psa_integration import rows as rowsmod
from psabridge.reconcile import export, service
from psabridge.reconcile import findings as f
from psabridge.reconcile import trace as tracemod
from psabridge.reconcile.apply import apply_approved
from psabridge.reconcile.approve import approve
from psabridge.reconcile.settle import Busy
from psabridge.web.auth import AdminUser, CurrentUser
from psabridge.web.deps import AppSettings, DbSession
from psabridge.web.templating import templates

router = APIRouter(prefix="/psa-integration/reconcile", include_in_schema=False)

PAGE_SIZE = 50
#: how long the tab waits for a queued reconciliation before pointing to the Jobs page
FOLLOW_SECONDS = 600.0
BASE = "/psa-integration/reconcile"


def _page(request: Request, name: str, context: dict[str, Any]) -> Response:
    return templates.TemplateResponse(
        request, name, {"active_tab": "psa", "tabs_psa": rowsmod.TABS, "psa_reconcile": True, **context}
    )


def _url(run_id: int | None = None, **params: Any) -> str:
    query = {k: v for k, v in {"run": run_id, **params}.items() if v not in (None, "")}
    return BASE + (f"?{urlencode(query)}" if query else "")


@router.get("")
def reconcile_page(
    request: Request,
    db: DbSession,
    user: CurrentUser,
    run: int | None = None,
    category: str | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    org = user.organization_id
    runs = service.list_runs(db, org, limit=20)
    current = None
    if run is not None:
        try:
            current = service.get_run(db, org, run)
        except service.ReconcileError as exc:
            raise HTTPException(status_code=404, detail="No such reconciliation") from exc
    elif runs:
        current = runs[0]
    category = category if category in f.CATEGORIES else None
    items = service.differences(db, current, category=category) if current else []
    pages = service.pages(len(items), PAGE_SIZE)
    page = min(page, pages)
    shown = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    approved = [fx for _, fixes in items for fx in fixes if fx.status == "approved"]
    connector = connectors.get_autotask_connector(db, org)
    try:
        calls = service.estimate(db, org) if connector else None
    except service.ReconcileError:
        calls = None
    return _page(
        request,
        "psa_integration/reconcile.html",
        {
            "runs": runs,
            "run": current,
            "items": shown,
            "total": len(items),
            "category_filter": category,
            "categories": f.CATEGORIES,
            "changed_by": f.CHANGED_BY,
            "page_number": page,
            "pages": pages,
            "approved": approved,
            "approved_calls": sum(fx.cost for fx in approved),
            "overwriting": [fx for fx in approved if fx.overwrites_person],
            "estimate": calls,
            "today": organization_today(db, org).isoformat(),
            "connector": connector,
            "is_admin": user.is_admin,
            "notice": notice,
            "error": error,
            "shown": _shown,
        },
    )


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@router.post("")
async def start(
    request: Request,
    user: AdminUser,
    settings: AppSettings,
    on_date: Annotated[str, Form()] = "",
) -> Response:
    """Reconcile now (it reads Autotask: stated cost first, on the tab), as a job: a worker runs it when
    a broker is configured, else this process; the page waits for it like it waits for a push."""
    try:
        day = date.fromisoformat(on_date) if on_date else None
    except ValueError:
        return RedirectResponse(_url(error=f"The date must be YYYY-MM-DD, not {on_date!r}."), status_code=303)
    try:
        job = await run_in_threadpool(
            jobs.run_and_follow,
            request.app.state.sessionmaker,
            user.organization_id,
            "reconcile",
            settings=settings,
            options={"on_date": day.isoformat() if day else None, "started_by": user.email},
            timeout=FOLLOW_SECONDS,
        )
    except (service.ReconcileError, Busy, jobs.JobError) as exc:
        return RedirectResponse(_url(error=str(exc)), status_code=303)
    if job.run_id is None:  # a broker and no worker taking it (yet)
        return RedirectResponse(
            _url(notice=f"The reconciliation (job {job.id}) is still {job.state}: follow it under Jobs."),
            status_code=303,
        )
    return RedirectResponse(_url(job.run_id), status_code=303)


@router.post("/{run_id}/approve")
async def approve_fixes(request: Request, run_id: int, db: DbSession, user: AdminUser) -> Response:
    """Approve the fixes chosen on the page (one per difference: radio buttons ``decision-<id>``)."""
    form = await request.form()
    chosen = [str(v) for k, v in form.multi_items() if k.startswith("decision-") and str(v).isdigit()]
    try:
        done = approve(db, user.organization_id, run_id, [int(v) for v in chosen], user.email)
    except service.ReconcileError as exc:
        db.rollback()
        if exc.status == 404 and exc.field == "run_id":
            raise HTTPException(status_code=404, detail="No such reconciliation") from exc
        return RedirectResponse(_url(run_id, error=str(exc)), status_code=303)
    return RedirectResponse(
        _url(run_id, notice=f"Approved {len(done)} fix(es). Nothing is written until you apply them."),
        status_code=303,
    )


@router.post("/{run_id}/apply")
async def apply_fixes(request: Request, run_id: int, user: AdminUser, settings: AppSettings) -> Response:
    """Apply the run's approved fixes (each written exactly once)."""
    try:
        report = await run_in_threadpool(
            apply_approved,
            request.app.state.sessionmaker,
            user.organization_id,
            run_id,
            app_settings=settings,
            actor=user.email,
        )
    except service.ReconcileError as exc:
        if exc.status == 404 and exc.field == "run_id":
            raise HTTPException(status_code=404, detail="No such reconciliation") from exc
        return RedirectResponse(_url(run_id, error=str(exc)), status_code=303)
    except (Busy, AutotaskError) as exc:
        return RedirectResponse(_url(run_id, error=str(exc)), status_code=303)
    text = f"Applied {len(report.applied)} fix(es) with {report.calls} API call(s)."
    problems = []
    if report.failed:
        problems.append(f"{len(report.failed)} failed (see each fix)")
    if report.stale:
        problems.append(
            f"{len(report.stale)} stale: Autotask changed since this reconciliation, reconcile again"
        )
    return RedirectResponse(_url(run_id, notice=text, error="; ".join(problems) or None), status_code=303)


@router.get("/{run_id}/export.csv")
def export_csv(run_id: int, db: DbSession, user: CurrentUser) -> Response:
    try:
        run = service.get_run(db, user.organization_id, run_id)
    except service.ReconcileError as exc:
        raise HTTPException(status_code=404, detail="No such reconciliation") from exc
    return Response(
        export.csv_text(db, run),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-{run.id}.csv"'},
    )


@router.get("/trace/{subscription_id}")
def trace_page(
    request: Request,
    subscription_id: int,
    db: DbSession,
    user: CurrentUser,
    settings: AppSettings,
    run: int | None = None,
) -> Response:
    """A contract service's trace (admins see Autotask's unit timeline: one API call)."""
    org = user.organization_id
    day = organization_today(db, org)
    if run is not None:
        try:
            day = service.get_run(db, org, run).on_date
        except service.ReconcileError as exc:
            raise HTTPException(status_code=404, detail="No such reconciliation") from exc
    error = None
    try:
        connector, _ = service.connector_of(db, org)
        client = connectors.build_client(connector, settings) if user.is_admin else None
        try:
            result = tracemod.trace(db, org, subscription_id, on_date=day, client=client)
        finally:
            if client is not None:
                client.close()
    except service.ReconcileError as exc:
        if exc.status == 404:
            raise HTTPException(status_code=404, detail="No such subscription") from exc
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    except AutotaskError as exc:
        error = f"Autotask answered with an error: {exc}"
        result = tracemod.trace(db, org, subscription_id, on_date=day, client=None)
    return _page(
        request,
        "psa_integration/reconcile_trace.html",
        {"trace": result, "run_id": run, "error": error, "back": _url(run)},
    )
