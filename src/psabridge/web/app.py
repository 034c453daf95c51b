"""Application factory: one FastAPI app serving the REST API (``/api/v1``) and the Admin Hub pages.

The database schema is migrated on start-up so a fresh data directory just works.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from psabridge import __version__
from psabridge.config import Settings, get_settings
from psabridge.db import make_engine, make_sessionmaker, migrate

log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On start, take up the jobs a stopped process left behind (embedded mode: nobody else would); on
    stop, leave the jobs still waiting for their due time queued for the next start."""
    from psabridge.jobs.recovery import recover_jobs
    from psabridge.jobs.service import stop_timers

    try:
        recover_jobs(app.state.sessionmaker, app.state.settings)
    except Exception:  # the app still serves; the jobs stay as they are for the next start
        log.exception("could not take up the jobs left queued or running")
    yield
    stopped = stop_timers()
    if stopped:
        log.info("left %s job(s) queued for the next start: %s", len(stopped), stopped)


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    """Build the application for ``settings`` (defaults to the process settings)."""
    settings = settings or get_settings()
    url = settings.resolved_database_url()
    if run_migrations:
        migrate(url)
    engine = make_engine(url)
    app = FastAPI(
        title="PSA Bridge",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)

    from psabridge.web.api.hub import router as hub_router
    from psabridge.web.problems import install_problem_handlers

    install_problem_handlers(app)

    from psabridge.web.api_docs import install_api_docs

    install_api_docs(app)
    app.include_router(hub_router, prefix="/api/v1")

    from psabridge.web.api.sync import router as sync_router

    app.include_router(sync_router, prefix="/api/v1")

    from psabridge.web.api.reconcile import router as reconcile_router

    app.include_router(reconcile_router, prefix="/api/v1")

    from psabridge.web.api.connectors import install as install_connectors_api
    from psabridge.web.connector_pages import router as connectors_pages_router

    install_connectors_api(app)
    app.include_router(connectors_pages_router)

    from psabridge.web.psa_integration_pages import router as psa_integration_router
    from psabridge.web.psa_integration_runs_pages import router as psa_runs_router
    from psabridge.web.reconcile_pages import router as reconcile_pages_router

    app.include_router(reconcile_pages_router)  # before the PSA Integration tabs' "/{tab}"
    app.include_router(psa_runs_router)  # likewise

    app.include_router(psa_integration_router)

    from psabridge.web.api.jobs import router as jobs_api_router
    from psabridge.web.jobs_pages import router as jobs_pages_router
    from psabridge.web.ops import install_ops

    app.include_router(jobs_api_router, prefix="/api/v1")
    app.include_router(jobs_pages_router)
    install_ops(app)

    from psabridge.jobs.changes import install_change_hook

    # a committed hub change (API, import, pages) schedules a sync after the quiet period
    install_change_hook(app.state.sessionmaker, settings)

    from psabridge.web.shell import install_web_shell

    install_web_shell(app)
    return app
