"""REST API of the sync engine under ``/api/v1/sync``: plan (dry run), runs (apply and history),
record statuses, and the user's link decisions for "Needs link" rows.

Errors are raised, not answered here: ``psabridge.web.problems`` turns them into problem+json (409 for a
refused decision, 404 for a missing record, 502/503 with what to check when Autotask failed). The plan
is a POST: it spends the tenant's API budget and records a run, so a cross-site link must not trigger it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from psabridge.hub.errors import InvalidRecord, RecordNotFound
from psabridge.hub.validation import MAX_OFFSET, DbId
from psabridge.jobs import service as jobs
from psabridge.sync import run_results, service
from psabridge.sync.models import SyncRun
from psabridge.web.api.responses import problem_responses
from psabridge.web.deps import AppSettings, DbSession, PathId
from psabridge.web.principal import Admin, Reader

router = APIRouter(prefix="/sync", tags=["sync"])

#: per-record results of a run per response, by default and at most
RECORDS_LIMIT = 500
MAX_RECORDS_LIMIT = 1000

ERRORS = problem_responses(
    401,
    403,
    404,
    409,
    422,
    502,
    503,
    e404="No such record or run in this organization",
    e409="Refused: not set up, already running, or a link rule",
)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retry_failed: bool = Field(default=False, description="Only retry records whose last write failed.")


def _linkable(value: str) -> str:
    if value not in service.LINKABLE:
        raise ValueError(f"must be one of {', '.join(service.LINKABLE)}")
    return value


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_type: Annotated[str, AfterValidator(_linkable)] = Field(
        description="account, product, billing_contract or service.<frequency>"
    )
    hub_id: DbId
    autotask_id: DbId | None = Field(
        default=None, description="Existing Autotask record to link; omit with add_new=true."
    )
    add_new: bool = Field(default=False, description='"Add New": create a new Autotask record.')


@router.post("/plan", responses=ERRORS)
def post_plan(
    request: Request, principal: Admin, settings: AppSettings, body: RunRequest | None = None
) -> Any:
    """The dry run: every Autotask operation the next sync would perform, with its API-call cost.

    Reads Autotask (spending API calls) and records a preview run, hence POST."""
    result = service.make_plan(
        request.app.state.sessionmaker,
        principal.organization_id,
        app_settings=settings,
        retry_failed=bool(body and body.retry_failed),
    )
    return {"run_id": result.run.id, **result.plan.to_dict()}


class ApplyRequest(RunRequest):
    wait: bool = Field(
        default=True,
        description=(
            "Wait for the sync job to finish and answer 201 with the run; false: answer 202 with the queued"
            " job at once (follow it at /api/v1/jobs/{id})."
        ),
    )


@router.post("/runs", status_code=201, responses=ERRORS)
def post_run(
    request: Request, principal: Admin, settings: AppSettings, body: ApplyRequest | None = None
) -> Any:
    """Plan and apply: a sync job (run by a worker when a broker is configured, else in this process).

    Answers 201 with the finished run and its per-record results, or 202 with the job when ``wait`` is
    false or the job has not finished within ten minutes."""
    factory = request.app.state.sessionmaker
    options = {"retry_failed": bool(body and body.retry_failed)}
    if body is not None and not body.wait:
        job_id = jobs.enqueue(factory, settings, principal.organization_id, "sync", options=options)
        with factory() as session:
            data = jobs.job_to_dict(jobs.get_job(session, principal.organization_id, job_id))
        return JSONResponse(data, status_code=202, headers={"Location": f"/api/v1/jobs/{job_id}"})
    job = jobs.run_and_follow(
        factory, principal.organization_id, "sync", settings=settings, options=options, timeout=600
    )
    if job.run_id is None or job.state not in jobs.FINISHED:
        return JSONResponse(
            jobs.job_to_dict(job), status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"}
        )
    with factory() as session:
        return {
            **_run_with_records(session, principal.organization_id, job.run_id, RecordsPage()),
            "job_id": job.id,
        }


class RecordsPage(BaseModel):
    """Which of a run's per-record results to return (oldest first)."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=RECORDS_LIMIT, ge=1, le=MAX_RECORDS_LIMIT, description="Results per page.")
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="Results to skip.")
    status: Annotated[str | None, Field(pattern=r"^[a-z_]{1,40}$")] = Field(
        default=None, description="Only results of this status (or 'written': those the run wrote)."
    )


def _run_with_records(session: Any, organization_id: int, run_id: int, page: RecordsPage) -> dict[str, Any]:
    run = session.get(SyncRun, run_id)
    if run is None or run.organization_id != organization_id:
        raise RecordNotFound(f"No sync run {run_id}")
    results = run_results.results_slice(
        session, run, status=page.status or None, offset=page.offset, limit=page.limit
    )
    data = service.run_to_dict(run, results.results)
    data["records_total"] = results.total
    data["records_counts"] = results.counts
    data["records_written"] = results.written
    data["limit"], data["offset"] = page.limit, page.offset
    return data


@router.get("/runs", responses=ERRORS)
def list_runs(
    db: DbSession,
    principal: Reader,
    limit: int = Query(50, ge=1, le=500),
    records: bool = Query(
        False, description=f"Include each run's first {RECORDS_LIMIT} per-record results (and their total)."
    ),
) -> Any:
    """Run history, newest first, with counts per entity (and per-record results on request)."""
    runs = service.list_runs(db, principal.organization_id, limit=limit)
    if not records:
        return [service.run_to_dict(r) for r in runs]
    return [_run_with_records(db, principal.organization_id, r.id, RecordsPage()) for r in runs]


@router.get("/runs/{run_id}", responses=ERRORS)
def read_run(run_id: PathId, db: DbSession, principal: Reader, page: Annotated[RecordsPage, Query()]) -> Any:
    """One run with a page of its per-record results (``limit``/``offset``, optionally one ``status``),
    ``records_total`` matching and ``records_counts`` per status."""
    return _run_with_records(db, principal.organization_id, run_id, page)


@router.get("/records", responses=ERRORS)
def records(
    db: DbSession,
    principal: Reader,
    phase: Annotated[str | None, Query(max_length=40, description="products, customers, ...")] = None,
) -> Any:
    """Every record's status: synced, pending, needs_link, blocked, waiting or error, with reasons."""
    return service.record_statuses(db, principal.organization_id, phase=phase)


@router.post("/links", responses=ERRORS)
def decide_link(body: LinkRequest, db: DbSession, principal: Admin, settings: AppSettings) -> Any:
    """Confirm a link to an existing Autotask record, or choose "Add New" (the checks of the PSA
    Integration screen: the record is yours, the Autotask record exists and holds no other record)."""
    if not body.add_new and body.autotask_id is None:
        raise InvalidRecord.on("autotask_id", "give autotask_id, or add_new=true")
    link = service.decide_link(
        db,
        principal.organization_id,
        body.record_type,
        body.hub_id,
        autotask_id=body.autotask_id,
        add_new=body.add_new,
        app_settings=settings,
    )
    return {
        "record_type": link.record_type,
        "hub_id": link.hub_id,
        "autotask_id": link.autotask_id,
        "decision": link.decision,
        "status": link.status,
    }
