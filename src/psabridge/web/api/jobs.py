"""REST API of jobs (``/api/v1/jobs``) and schedules (``/api/v1/schedules``) of the caller's organization."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from psabridge.hub.errors import RecordNotFound
from psabridge.hub.validation import MAX_OFFSET
from psabridge.jobs import schedules
from psabridge.jobs import service as jobs
from psabridge.web.api.responses import problem_responses
from psabridge.web.deps import DbSession, PathId
from psabridge.web.principal import Admin, Reader

router = APIRouter(tags=["jobs"])

ERRORS = problem_responses(401, 403, 404, 422, e404="No such job or schedule in this organization")


@router.get("/jobs", responses=ERRORS)
def list_jobs(
    db: DbSession,
    principal: Reader,
    state: Annotated[Literal["queued", "running", "succeeded", "failed"] | None, Query()] = None,
    kind: Annotated[Literal["sync", "reconcile"] | None, Query()] = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> Any:
    """Jobs (syncs and reconciliations, however started), newest first, with their state."""
    rows, total = jobs.list_jobs(
        db, principal.organization_id, state=state, kind=kind, limit=limit, offset=offset
    )
    return {"items": [jobs.job_to_dict(j) for j in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/jobs/{job_id}", responses=ERRORS)
def read_job(job_id: PathId, db: DbSession, principal: Reader) -> Any:
    """One job: state, timestamps, the run it made and its error."""
    try:
        return jobs.job_to_dict(jobs.get_job(db, principal.organization_id, job_id))
    except jobs.JobNotFound as exc:
        raise RecordNotFound(str(exc)) from exc


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sync", "reconcile"]
    frequency: Literal["hourly", "daily"]
    at: str = Field(
        default="00",
        max_length=5,
        pattern=r"^[0-9:]{1,5}$",
        description="hourly: the minute (MM); daily: HH:MM in the organization's time zone",
    )


@router.get("/schedules", responses=ERRORS)
def list_schedules(db: DbSession, principal: Reader) -> Any:
    """The organization's schedules of syncs and reconciliations."""
    return [schedules.schedule_to_dict(s) for s in schedules.list_schedules(db, principal.organization_id)]


@router.post("/schedules", status_code=201, responses=ERRORS)
def create_schedule(body: ScheduleCreate, db: DbSession, principal: Admin) -> Any:
    """Run the connector's sync or reconciliation hourly or daily (fired by ``psabridge scheduler``)."""
    schedule = schedules.add_schedule(
        db, principal.organization_id, kind=body.kind, frequency=body.frequency, at=body.at
    )
    return schedules.schedule_to_dict(schedule)


@router.delete("/schedules/{schedule_id}", status_code=204, responses=ERRORS)
def delete_schedule(schedule_id: PathId, db: DbSession, principal: Admin) -> None:
    """Remove a schedule."""
    if not schedules.remove_schedule(db, principal.organization_id, schedule_id):
        raise RecordNotFound(f"No schedule {schedule_id}")
