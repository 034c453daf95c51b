"""CLI: ``psabridge worker`` (runs queued jobs), ``psabridge scheduler`` (fires schedules),
``psabridge schedule add|list|remove`` and ``psabridge jobs``."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

import typer

from psabridge.cli_text import plain

OrgOption = typer.Option(None, "--org", help="Organization slug (default: the only organization).")


def _setup(*, service: bool = False) -> tuple[Any, Any]:
    """Session factory and settings; a long-running ``service`` (worker, scheduler) also sets up logging
    (``PSABRIDGE_LOG_LEVEL``, ``PSABRIDGE_LOG_FORMAT``)."""
    from psabridge import logs
    from psabridge.config import get_settings
    from psabridge.db import make_engine, make_sessionmaker, migrate

    settings = get_settings()
    if service:
        logs.configure(settings.log_level, settings.log_format)
    url = settings.resolved_database_url()
    migrate(url)
    return make_sessionmaker(make_engine(url)), settings


def _org(factory: Any, org: str | None) -> int:
    from psabridge.hub.orgs import get_organization, only_organization

    with factory() as session:
        organization = get_organization(session, org) if org else only_organization(session)
        return int(organization.id)


def worker_command(
    threads: int = typer.Option(4, "--threads", min=1, max=64, help="Jobs run at once by this worker."),
    metrics_port: int = typer.Option(0, "--metrics-port", min=0, max=65535, help="Serve /metrics here."),
) -> None:
    """Run queued jobs (syncs, reconciliations) from the Redis broker until stopped (SIGTERM, Ctrl+C)."""
    _, settings = _setup(service=True)
    if not settings.broker_url:
        typer.echo(
            "Error: set PSABRIDGE_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a worker", err=True
        )
        raise typer.Exit(1)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=settings.host)
    from psabridge.jobs.broker import run_worker

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_worker(settings, threads=threads, stop=stop)


def scheduler_command(
    once: bool = typer.Option(False, "--once", help="Fire what is due now and exit."),
) -> None:
    """Fire due schedules (several schedulers may run: each due time fires once)."""
    from psabridge.jobs import schedules

    factory, settings = _setup(service=not once)
    if once:
        fired = schedules.tick(factory, settings)
        typer.echo(f"{len(fired)} job(s) queued")
        return
    # without a broker the scheduler runs the jobs it fires: like the web app, it takes up at its start
    # the jobs a stopped process left behind (with a broker, Dramatiq redelivers them)
    from psabridge.jobs.recovery import recover_jobs

    recover_jobs(factory, settings)
    schedules.run_scheduler(factory, settings)


schedule_app = typer.Typer(help="Schedules of syncs and reconciliations per connector.", no_args_is_help=True)


@schedule_app.command("add")
def schedule_add(
    kind: str = typer.Argument(..., help="sync or reconcile"),
    frequency: str = typer.Argument(..., help="hourly or daily"),
    at: str = typer.Option("00", "--at", help="hourly: the minute (MM); daily: HH:MM (organization's zone)"),
    org: str | None = OrgOption,
) -> None:
    """Add a schedule to the organization's Autotask connector."""
    from psabridge.jobs import schedules

    factory, _ = _setup()
    org_id = _org(factory, org)
    with factory() as session:
        schedule = schedules.add_schedule(session, org_id, kind=kind, frequency=frequency, at=at)
        typer.echo(json.dumps(schedules.schedule_to_dict(schedule)))


@schedule_app.command("list")
def schedule_list(org: str | None = OrgOption) -> None:
    """The organization's schedules."""
    from psabridge.jobs import schedules

    factory, _ = _setup()
    org_id = _org(factory, org)
    with factory() as session:
        for schedule in schedules.list_schedules(session, org_id):
            typer.echo(json.dumps(schedules.schedule_to_dict(schedule)))


@schedule_app.command("remove")
def schedule_remove(schedule_id: int = typer.Argument(..., min=1), org: str | None = OrgOption) -> None:
    """Remove a schedule."""
    from psabridge.jobs import schedules

    factory, _ = _setup()
    org_id = _org(factory, org)
    with factory() as session:
        if not schedules.remove_schedule(session, org_id, schedule_id):
            typer.echo(f"Error: no schedule {schedule_id}", err=True)
            raise typer.Exit(1)
    typer.echo(f"Schedule {schedule_id} removed")


def jobs_command(
    org: str | None = OrgOption,
    limit: int = typer.Option(20, "--limit", min=1, max=500),
) -> None:
    """The organization's latest jobs and their state."""
    from psabridge.jobs import service

    factory, _ = _setup()
    org_id = _org(factory, org)
    with factory() as session:
        rows, _total = service.list_jobs(session, org_id, limit=limit)
        for job in rows:
            d = service.job_to_dict(job)
            typer.echo(
                plain(
                    f"{d['id']:>6} {d['kind']:<9} {d['trigger']:<8} {d['state']:<9} run {d['run_id'] or '-'}"
                    f" {d['created_at']} {d['error'] or ''}"
                )
            )


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)
    app.command("scheduler")(scheduler_command)
    app.command("jobs")(jobs_command)
    app.add_typer(schedule_app, name="schedule")
