"""CLI: ``psabridge reconcile`` (compare Autotask with the hub on a date) and ``reconcile show |
approve | apply | export`` (a person's decisions, applied exactly once)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings

app = typer.Typer(
    help="Reconcile Autotask against the billing hub, seat by seat; approve and apply fixes.",
    invoke_without_command=True,
)
OrgOption = typer.Option(None, "--org", help="Organization slug (default: the only organization).")
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


@contextmanager
def _context(org: str | None) -> Iterator[tuple[sessionmaker[Session], int, Settings]]:
    """Session factory, organization id and settings; domain errors end the command with exit 1."""
    from psabridge.config import get_settings
    from psabridge.db import make_engine, make_sessionmaker, migrate
    from psabridge.hub.errors import HubError
    from psabridge.hub.orgs import get_organization, only_organization
    from psabridge.reconcile.service import ReconcileError
    from psabridge.reconcile.settle import Busy

    settings = get_settings()
    url = settings.resolved_database_url()
    migrate(url)
    engine = make_engine(url)
    try:
        factory = make_sessionmaker(engine)
        with factory() as session:
            organization = get_organization(session, org) if org else only_organization(session)
            org_id = organization.id
        yield factory, org_id, settings
    except HubError as exc:
        typer.echo(f"Error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    except (ReconcileError, Busy) as exc:
        field = getattr(exc, "field", None)
        typer.echo(f"Error: {exc}" + (f" ({field})" if field else ""), err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()


def _differences_table(data: dict[str, Any]) -> Table:
    table = Table(
        title=f"Reconciliation {data['id']} on {data['on_date']}: {len(data['items'])} difference(s)"
    )
    for col in ("Category", "Record", "Autotask", "Hub", "Who", "Fixes (id: what, calls, status)"):
        table.add_column(col, overflow="fold")
    for d in data["items"]:
        fixes = "\n".join(f"{x['id']}: {x['summary']} [{x['cost']}] {x['status']}" for x in d["fixes"])
        table.add_row(
            d["category_label"],
            d["label"] + (f" · {d['field']}" if d["field"] else ""),
            json.dumps(d["autotask_value"], default=str),
            json.dumps(d["hub_value"], default=str),
            d["changed_by"],
            fixes,
        )
    return table


def _show(factory: sessionmaker[Session], org_id: int, run_id: int, as_json: bool) -> None:
    from psabridge.reconcile.export import run_with_differences
    from psabridge.reconcile.service import get_run

    with factory() as session:
        data = run_with_differences(session, get_run(session, org_id, run_id))
    if as_json:
        typer.echo(json.dumps(data, default=str))
        return
    console = Console()
    console.print(_differences_table(data))
    console.print(
        f"API calls: {data['api_calls']} (stated before: {data['estimated_calls']}; minimum {data['minimum_calls']})"
        + (f"; {data['accepted_earlier']} accepted earlier, not shown" if data["accepted_earlier"] else "")
    )
    if data["error"]:
        console.print(f"Error: {data['error']}", markup=False)


@app.callback()
def reconcile(
    ctx: typer.Context,
    org: str | None = OrgOption,
    on: str | None = typer.Option(None, "--date", help="Date to compare (YYYY-MM-DD; default today)."),
    as_json: bool = JsonOption,
) -> None:
    """Compare Autotask with the billing hub on a date (reads only; writes nothing to Autotask). It runs
    as a job: on a worker when PSABRIDGE_BROKER_URL is set, else in this process."""
    if ctx.invoked_subcommand is not None:
        return
    from psabridge.jobs import service as jobs
    from psabridge.reconcile import service

    try:
        day = date.fromisoformat(on) if on else None
    except ValueError:
        typer.echo(f"Error: --date must be YYYY-MM-DD, not {on!r}", err=True)
        raise typer.Exit(2) from None
    with _context(org) as (factory, org_id, settings):
        with factory() as session:
            calls = service.estimate(session, org_id, day)
        if not as_json:
            typer.echo(f"Reading Autotask: about {calls} API call(s)", err=True)
        if settings.broker_url and not as_json:
            typer.echo("Queued for a worker (PSABRIDGE_BROKER_URL); waiting for it to finish…", err=True)
        try:
            job = jobs.run_and_follow(
                factory,
                org_id,
                "reconcile",
                settings=settings,
                options={"on_date": day.isoformat() if day else None, "started_by": _actor()},
            )
        except jobs.JobError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from exc
        if job.run_id is None:
            typer.echo(f"Error: job {job.id} is still {job.state}; follow it with `psabridge jobs`", err=True)
            raise typer.Exit(1)
        _show(factory, org_id, job.run_id, as_json)
        with factory() as session:
            done = service.get_run(session, org_id, job.run_id).status == "done"
    raise typer.Exit(0 if done else 2)


@app.command("show")
def show(run_id: int, org: str | None = OrgOption, as_json: bool = JsonOption) -> None:
    """A reconciliation's differences and fixes."""
    with _context(org) as (factory, org_id, _):
        _show(factory, org_id, run_id, as_json)


@app.command("list")
def list_runs(org: str | None = OrgOption, as_json: bool = JsonOption) -> None:
    """Reconciliations, newest first."""
    from psabridge.reconcile import service
    from psabridge.reconcile.export import run_to_dict

    with _context(org) as (factory, org_id, _), factory() as session:
        runs = [run_to_dict(r) for r in service.list_runs(session, org_id)]
    if as_json:
        typer.echo(json.dumps(runs, default=str))
        return
    for r in runs:
        typer.echo(
            f"{r['id']}: {r['on_date']} {r['status']} {r['differences']} difference(s), {r['api_calls']} calls"
        )


@app.command("approve")
def approve(
    run_id: int,
    fix_ids: list[int] = typer.Argument(..., help="Fix ids to approve."),
    org: str | None = OrgOption,
) -> None:
    """Approve fixes (one per difference); nothing is written until ``apply``."""
    from psabridge.reconcile.approve import approve as approve_fixes

    with _context(org) as (factory, org_id, _), factory() as session:
        done = approve_fixes(session, org_id, run_id, fix_ids, _actor())
    for fx in done:
        typer.echo(f"Approved fix {fx.id}: {fx.summary}")


@app.command("apply")
def apply(
    run_id: int,
    fix_ids: list[int] = typer.Option([], "--approve", help="Approve these fix ids first."),
    org: str | None = OrgOption,
    as_json: bool = JsonOption,
) -> None:
    """Apply the approved fixes of a reconciliation, each written exactly once."""
    from psabridge.reconcile.apply import apply_approved
    from psabridge.reconcile.approve import approve as approve_fixes

    with _context(org) as (factory, org_id, settings):
        if fix_ids:
            with factory() as session:
                approve_fixes(session, org_id, run_id, fix_ids, _actor())
        report = apply_approved(factory, org_id, run_id, app_settings=settings, actor=_actor())
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
    else:
        typer.echo(
            f"Applied {len(report.applied)}, failed {len(report.failed)}, stale {len(report.stale)} "
            f"({report.calls} API calls)"
        )
        for message in report.messages:
            typer.echo(message)
    raise typer.Exit(0 if not report.failed and not report.stale else 2)


@app.command("export")
def export(
    run_id: int,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the CSV here (default: stdout)."),
    org: str | None = OrgOption,
) -> None:
    """A reconciliation as CSV: one row per fix, with who approved it, when, and what was written."""
    from psabridge.reconcile.export import csv_text
    from psabridge.reconcile.service import get_run

    with _context(org) as (factory, org_id, _), factory() as session:
        text = csv_text(session, get_run(session, org_id, run_id))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def register(root: typer.Typer) -> None:
    """Add ``reconcile`` to the root CLI."""
    root.add_typer(app, name="reconcile")
