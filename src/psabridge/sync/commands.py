"""CLI: ``psabridge plan`` (dry run) and ``psabridge sync`` (apply, with Rich progress bars per entity)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from psabridge.cli_progress import PhaseProgress
from psabridge.cli_text import plain

OrgOption = typer.Option(None, "--org", help="Organization slug (default: the only organization).")
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def _context(org: str | None) -> tuple[Any, int, Any]:
    from psabridge.config import get_settings
    from psabridge.db import make_engine, make_sessionmaker, migrate
    from psabridge.hub.orgs import get_organization, only_organization

    settings = get_settings()
    url = settings.resolved_database_url()
    migrate(url)
    factory = make_sessionmaker(make_engine(url))
    with factory() as session:
        organization = get_organization(session, org) if org else only_organization(session)
        return factory, organization.id, settings


def _plan_table(plan: Any) -> Table:
    table = Table(title=f"Plan: {len(plan.operations)} operations, {plan.write_calls} write calls")
    for col in ("Phase", "Operation", "Calls"):
        table.add_column(col)
    for op in plan.operations:
        table.add_row(op.phase, plain(op.summary), str(op.cost))
    return table


def _records_table(records: list[Any]) -> Table:
    table = Table(title="Records that will not be written")
    for col in ("Phase", "Record", "Status", "Reason"):
        table.add_column(col)
    for rec in records:
        if rec.status in ("blocked", "waiting", "needs_link", "error", "drift"):
            table.add_row(rec.phase, plain(rec.label), rec.status, plain(rec.reason or ""))
    return table


STATUSES = ("synced", "pending", "needs_link", "blocked", "waiting", "error", "drift")


def _summary_table(records: list[dict[str, Any]]) -> Table:
    """Records per tab (phase) and status, as on the PSA Integration screen."""
    from psabridge.sync.keys import PHASES, RECORD_TYPES

    counts: dict[str, dict[str, int]] = {p: dict.fromkeys(STATUSES, 0) for p in PHASES}
    for rec in records:
        rt = RECORD_TYPES.get(rec["record_type"])
        if rt is not None and rt.phase in counts and rec["status"] in counts[rt.phase]:
            counts[rt.phase][rec["status"]] += 1
    table = Table(title="Records")
    table.add_column("Entity")
    for status in STATUSES:
        table.add_column(status.replace("_", " ").capitalize(), justify="right")
    for phase, row in counts.items():
        if any(row.values()):
            table.add_row(phase.capitalize(), *(str(row[s]) for s in STATUSES))
    return table


def plan_command(org: str | None = OrgOption, as_json: bool = JsonOption) -> None:
    """Show exactly what the next sync would write to Autotask (writes nothing to Autotask)."""
    from psabridge.sync import service

    factory, org_id, settings = _context(org)
    try:
        result = service.make_plan(factory, org_id, app_settings=settings)
    except service.SyncError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(result.plan.to_dict(), default=str))
        return
    console = Console()
    console.print(_plan_table(result.plan))
    console.print(_records_table(result.plan.records))
    for notice in result.plan.notices:
        console.print(f"Left as it is: {notice}", markup=False, highlight=False)
    console.print(f"API calls: {result.plan.read_calls} reads done, {result.plan.write_calls} writes planned")


def sync_command(
    org: str | None = OrgOption,
    as_json: bool = JsonOption,
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Only retry records that failed."),
) -> None:
    """Plan and apply: write the differences to Autotask, exactly once, journaled."""
    from psabridge.jobs import service as jobs
    from psabridge.sync import service

    factory, org_id, settings = _context(org)
    console = Console(stderr=True, quiet=as_json)
    bars = PhaseProgress(console)
    if settings.broker_url:
        console.print("Queued for a worker (PSABRIDGE_BROKER_URL); waiting for it to finish…")
    try:
        with bars:
            job = jobs.run_and_follow(
                factory,
                org_id,
                "sync",
                settings=settings,
                options={"retry_failed": retry_failed},
                progress=bars.on_op,
                on_plan=bars.on_plan,
            )
    except service.SyncError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if job.run_id is None:
        typer.echo(f"Error: job {job.id} is still {job.state}; follow it with `psabridge jobs`", err=True)
        raise typer.Exit(1)
    with factory() as session:
        run, results = service.get_run(session, org_id, job.run_id)
        data = service.run_to_dict(run, results)
    if as_json:
        typer.echo(json.dumps(data, default=str))
    else:
        out = Console()
        out.print(_summary_table(data["records"]))
        out.print(f"Sync run {run.id}: {run.status} ({run.api_calls} API calls)")
        if run.error:
            out.print(plain(run.error))
        for rec in data["records"]:
            if rec["status"] not in ("synced",):
                out.print(plain(f"  {rec['status']:<10} {rec['label']}: {rec['reason'] or ''}"))
    raise typer.Exit(0 if run.status in ("succeeded", "paused") else 2)


def register(app: typer.Typer) -> None:
    """Add ``plan`` and ``sync`` to the root CLI."""
    app.command("plan")(plan_command)
    app.command("sync")(sync_command)
