"""Operations endpoints: ``/healthz`` (the process answers), ``/readyz`` (database and broker reachable;
503 problem+json otherwise) and ``/metrics`` (Prometheus text format). No authentication and no
secrets: they say only whether things work, never where they are."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from starlette.concurrency import run_in_threadpool

from psabridge.jobs.models import Job
from psabridge.web.problems import problem

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


def _checks(request: Request) -> dict[str, str]:
    settings = request.app.state.settings
    checks: dict[str, str] = {}
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        checks["database"] = "unreachable"
    if settings.broker_url:
        from psabridge.jobs.locks import redis_client

        try:
            redis_client(settings.broker_url).ping()
            checks["broker"] = "ok"
        except Exception as exc:
            log.warning("readiness: broker unreachable (%s)", type(exc).__name__)
            checks["broker"] = "unreachable"
    else:
        checks["broker"] = "in process"
    return checks


@router.get("/readyz")
async def readyz(request: Request) -> Any:
    checks = await run_in_threadpool(_checks, request)
    failing = [name for name, state in checks.items() if state == "unreachable"]
    if failing:
        return problem(
            503,
            "Not ready",
            f"Unreachable: {', '.join(failing)}",
            errors=[{"field": name, "message": "unreachable"} for name in failing],
            checks=checks,
        )
    return JSONResponse({"status": "ready", "checks": checks})


class JobsCollector(Collector):
    """Jobs per kind and state (every worker's, from the database) and the broker queue's depth."""

    def __init__(self, request_app: Any) -> None:
        self._app = request_app

    def collect(self) -> Any:
        jobs = GaugeMetricFamily("psabridge_jobs", "Jobs by kind and state.", labels=["kind", "state"])
        depth = GaugeMetricFamily("psabridge_queue_depth", "Jobs waiting: queued jobs (and broker messages).")
        try:
            with self._app.state.sessionmaker() as session:
                rows = session.execute(
                    select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)
                )
                queued = 0
                for kind, state, count in rows:
                    jobs.add_metric([kind, state], int(count))
                    if state == "queued":
                        queued += int(count)
            settings = self._app.state.settings
            if settings.broker_url:
                from psabridge.jobs.broker import queue_depth

                queued = max(queued, queue_depth(settings))
            depth.add_metric([], queued)
        except Exception as exc:  # a scrape must not fail because the database blinked
            log.warning("metrics: jobs not read (%s)", type(exc).__name__)
        yield jobs
        yield depth


def install_ops(app: Any) -> None:
    app.include_router(router)
    collector = JobsCollector(app)

    def metrics() -> Response:
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry()
        registry.register(collector)
        body = generate_latest(REGISTRY) + generate_latest(registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
