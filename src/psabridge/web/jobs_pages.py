"""Admin Hub → Jobs: the organization's syncs and reconciliations (queued, running, finished), however
they were started, with the run each made and why one failed. Admins only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from psabridge.hub.validation import MAX_OFFSET
from psabridge.jobs import schedules
from psabridge.jobs import service as jobs
from psabridge.web.auth import AdminUser
from psabridge.web.deps import DbSession
from psabridge.web.templating import templates

router = APIRouter(prefix="/jobs", include_in_schema=False)

PAGE_SIZE = 50


@router.get("")
def jobs_page(
    request: Request,
    db: DbSession,
    user: AdminUser,
    state: Annotated[Literal["queued", "running", "succeeded", "failed"] | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    rows, total = jobs.list_jobs(db, user.organization_id, state=state, limit=PAGE_SIZE, offset=offset)
    return templates.TemplateResponse(
        request,
        "jobs/list.html",
        {
            "active_tab": "jobs",
            "jobs": [jobs.job_to_dict(j) for j in rows],
            "total": total,
            "state": state or "",
            "offset": offset,
            "page_size": PAGE_SIZE,
            "schedules": [
                schedules.schedule_to_dict(s) for s in schedules.list_schedules(db, user.organization_id)
            ],
            "broker": bool(request.app.state.settings.broker_url),
        },
    )
