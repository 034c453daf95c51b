"""Reconciliations started from the Reconcile tab and ``psabridge reconcile`` are jobs: in this process
without a broker, on a worker with one (the caller follows the job and shows its run as before)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from psabridge.config import Settings
from psabridge.reconcile.models import ReconcileRun
from tests.jobs.conftest import PSABRIDGE, process_env
from tests.jobs.support import jobs_of
from tests.support.servers import serve_in_thread
from tests.support.web import signed_in_client
from tests.sync.support import Hub, SyncEnv, build_fixture


@pytest.fixture()
def tab(env: SyncEnv, make_org_user: Any) -> Iterator[Callable[[Settings], Any]]:
    """``tab(settings)``: an admin's signed-in client of the app started with ``settings`` and its CSRF
    token; the app stops after the test."""
    from psabridge.web.app import create_app

    admin = make_org_user(slug="acme", role="admin")
    stack: list[Any] = []

    def start(settings: Settings) -> tuple[Any, str, str]:
        app = create_app(settings, run_migrations=False)
        server = serve_in_thread(app)
        base = server.__enter__()
        stack.append((server, app))
        client, csrf = signed_in_client(base, admin.email, admin.password)
        return client, csrf, admin.email

    yield start
    for server, app in stack:
        server.__exit__(None, None, None)
        app.state.engine.dispose()


def _reconcile_on_the_tab(client: Any, csrf: str) -> int:
    started = client.post("/psa-integration/reconcile", data={"csrf_token": csrf, "on_date": "2026-03-01"})
    assert started.status_code == 303, started.text
    found = re.search(r"run=(\d+)", started.headers["location"])
    assert found, started.headers["location"]
    return int(found.group(1))


def test_the_reconcile_tab_runs_a_job_in_process(env: SyncEnv, hub: Hub, tab: Callable[..., Any]) -> None:
    build_fixture(hub)
    client, csrf, email = tab(env.app_settings)
    run_id = _reconcile_on_the_tab(client, csrf)
    (job,) = jobs_of(env.factory)
    assert (job.kind, job.trigger, job.state, job.run_id) == ("reconcile", "manual", "succeeded", run_id)
    with env.factory() as s:
        run = s.get(ReconcileRun, run_id)
        assert run is not None and run.status == "done"
        assert run.started_by == email and str(run.on_date) == "2026-03-01"
    assert (
        'data-testid="no-reconciliations"' not in client.get(f"/psa-integration/reconcile?run={run_id}").text
    )


def test_a_reconcile_job_refused_by_the_connector_says_why_on_the_tab(
    env: SyncEnv, tab: Callable[..., Any]
) -> None:
    from psabridge.connectors.models import Connector

    with env.factory() as s:
        for connector in s.query(Connector).all():
            s.delete(connector)
        s.commit()
    client, csrf, _ = tab(env.app_settings)
    started = client.post("/psa-integration/reconcile", data={"csrf_token": csrf})
    assert started.status_code == 303 and "error=" in started.headers["location"]
    assert "Integrations" in client.get(started.headers["location"]).text
    (job,) = jobs_of(env.factory)
    assert (job.state, job.error_kind) == ("failed", "reconcile")


@pytest.mark.slow
def test_reconciliations_from_the_tab_and_the_cli_run_on_a_worker(
    env: SyncEnv, hub: Hub, broker_settings: Settings, spawn: Callable[..., Any], tab: Callable[..., Any]
) -> None:
    build_fixture(hub)
    worker = spawn(broker_settings, "worker", "--threads", "1")
    client, csrf, email = tab(broker_settings)
    run_id = _reconcile_on_the_tab(client, csrf)
    done = subprocess.run(
        [PSABRIDGE, "reconcile", "--org", "acme", "--json"],
        env=process_env(broker_settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    cli_run = json.loads(done.stdout)
    from_tab, from_cli = jobs_of(env.factory)
    assert (from_tab.run_id, from_cli.run_id) == (run_id, cli_run["id"])
    for job in (from_tab, from_cli):
        assert (job.kind, job.state) == ("reconcile", "succeeded"), job.error
        assert job.worker.endswith(f":{worker.pid}")  # not the web app's or the CLI's process
    with env.factory() as s:
        run = s.get(ReconcileRun, run_id)
        assert run is not None and run.started_by == email
