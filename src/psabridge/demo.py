"""``psabridge demo``: the whole product on one laptop, in one command (``make run``).

It starts the Autotask emulator in this process (a thread on a free loopback port, its tenant kept in the
data directory so the Autotask side survives restarts), points zone discovery at it, creates the demo
organization and its admin, loads the sample data set, configures the Autotask connector exactly as a
user would (credentials tested live, every setting chosen *by label* from the tenant's own option
lists), runs one sync with progress bars, prints what happened, and serves the Admin Hub.

Running it again on the same data directory reuses everything: same organization, same admin, same
connector, same emulated tenant; the sync then plans nothing and writes nothing.

The set-up steps (emulator, organization, admin, connector) are in :mod:`psabridge.demo_steps`; with
the ``emulator`` command, they are the only place outside the tests that imports
:mod:`psabridge.emulator`: the product itself talks to Autotask only through the client.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from psabridge.cli_progress import PhaseProgress
from psabridge.cli_text import plain, safe
from psabridge.config import Settings, get_settings
from psabridge.demo_steps import (
    EMULATOR_STATE_FILE,
    DemoError,
    emulator_for,
    ensure_admin,
    ensure_connector,
    ensure_organization,
)

WRITE_VERBS = ("create", "update", "replace", "delete")

#: Phases as the PSA Integration tabs name them.
PHASE_TITLES = {
    "products": "Products",
    "customers": "Customers",
    "agreements": "Agreements",
    "services": "Services",
    "changes": "Changes",
    "charges": "Charges",
}
STATUS_COLUMNS = ("synced", "pending", "needs_link", "blocked", "waiting", "error", "drift")


@dataclass(frozen=True)
class DemoSummary:
    """What one demo sync did: records per phase and status, problem rows, writes seen by Autotask."""

    run_id: int
    run_status: str
    api_calls: int
    autotask_writes: int
    per_phase: dict[str, dict[str, int]]
    problems: list[dict[str, Any]]


def _writes(calls: dict[str, Any]) -> int:
    """Write calls in the emulator's counters (``{"calls": {entity: {verb: n}}}``)."""
    return sum(
        n for verbs in calls.get("calls", {}).values() for verb, n in verbs.items() if verb in WRITE_VERBS
    )


# --- the sync ------------------------------------------------------------------------------------------


def run_demo_sync(
    factory: sessionmaker[Session], organization_id: int, app_settings: Settings, emu: Any, console: Console
) -> DemoSummary:
    """One sync with a progress bar per phase; the summary counts writes as the emulator saw them."""
    from psabridge.sync import service

    before = _writes(emu.control.calls())
    bars = PhaseProgress(console, PHASE_TITLES)
    with bars:
        run = service.run_sync(
            factory, organization_id, app_settings=app_settings, progress=bars.on_op, on_plan=bars.on_plan
        )
    if not bars.planned:
        console.print("Nothing to write: Autotask already matches the billing hub.")
    with factory() as session:
        run, results = service.get_run(session, organization_id, run.id)
        per_phase: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUS_COLUMNS, 0))
        problems = []
        from psabridge.sync.keys import RECORD_TYPES

        for r in results:
            phase = RECORD_TYPES[r.record_type].phase if r.record_type in RECORD_TYPES else "other"
            per_phase[phase][r.status] = per_phase[phase].get(r.status, 0) + 1
            if r.status in ("blocked", "waiting", "error", "needs_link", "drift"):
                problems.append(
                    {"phase": phase, "label": r.label, "status": r.status, "reason": r.reason or ""}
                )
        return DemoSummary(
            run_id=run.id,
            run_status=run.status,
            api_calls=run.api_calls,
            autotask_writes=_writes(emu.control.calls()) - before,
            per_phase=dict(per_phase),
            problems=problems,
        )


def print_summary(console: Console, summary: DemoSummary, *, limit: int = 25) -> None:
    table = Table(title=f"Sync run {summary.run_id}: {summary.run_status}")
    table.add_column("Entity")
    for col in STATUS_COLUMNS:
        table.add_column(col.replace("_", " ").capitalize(), justify="right")
    for phase, title in PHASE_TITLES.items():
        counts = summary.per_phase.get(phase)
        if counts:
            table.add_row(title, *(str(counts.get(c, 0)) for c in STATUS_COLUMNS))
    console.print(table)
    console.print(f"Autotask writes this run: {summary.autotask_writes}")
    console.print(f"API calls this run: {summary.api_calls}")
    if summary.problems:
        console.print(f"Rows not synced ({len(summary.problems)}):")
        for p in summary.problems[:limit]:
            console.print(
                plain(  # labels and reasons are data: never markup, escapes shown, not sent
                    f"  [{p['status']}] {PHASE_TITLES.get(p['phase'], p['phase'])}: {p['label']} — {p['reason']}"
                ),
                highlight=False,
            )
        if len(summary.problems) > limit:
            console.print(f"  … and {len(summary.problems) - limit} more (see the PSA Integration screen)")
    else:
        console.print("Rows not synced: none")


# --- the command ---------------------------------------------------------------------------------------


def demo_command(
    once: bool = typer.Option(False, "--once", help="Exit after the summary instead of serving the hub."),
    customers: int = typer.Option(25, "--customers", min=1, max=5000, help="Sample customers to load."),
    port: int | None = typer.Option(None, "--port", help="Admin Hub port (default PSABRIDGE_PORT)."),
    host: str | None = typer.Option(None, "--host", help="Admin Hub address (default PSABRIDGE_HOST)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data directory (default PSABRIDGE_DATA_DIR, else .psabridge)."
    ),
    reset_password: bool = typer.Option(
        False, "--reset-password", help="Give the demo admin a new password and print it."
    ),
) -> None:
    """The demo: Autotask emulator + billing hub with sample data + connector + one sync, then the hub."""
    from psabridge.db import make_engine, make_sessionmaker, migrate
    from psabridge.hub.sample_data import generate

    if data_dir is not None:
        os.environ["PSABRIDGE_DATA_DIR"] = str(data_dir)
        get_settings.cache_clear()
    base = get_settings()
    base.data_dir.mkdir(parents=True, exist_ok=True)
    console = Console()
    with emulator_for(base.data_dir) as emu:
        # Everything in this process (and the hub it serves) discovers the emulator's zone.
        os.environ["PSABRIDGE_AUTOTASK_ZONE_URL"] = emu.zone_url
        get_settings.cache_clear()
        settings = get_settings()
        console.print(
            f"Autotask emulator: {emu.base_url} (tenant kept in {base.data_dir / EMULATOR_STATE_FILE})"
        )
        creds = emu.credentials
        console.print(
            plain(
                f"Emulator API user: {creds.username}  secret: {creds.secret}  integration code: "
                f"{creds.integration_code}  (zone discovery: {emu.zone_url})"
            )
        )
        url = settings.resolved_database_url()
        migrate(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        try:
            with factory() as session:
                org = ensure_organization(session)
                org_id = org.id
                login = ensure_admin(session, org_id, reset_password=reset_password)
                counts = generate(session, org, customers=customers)
                session.commit()
                console.print(
                    "Sample data: "
                    + ", ".join(f"{n} {name.replace('_', ' ')}s" for name, n in counts.items())
                )
                ensure_connector(session, org_id, emu, settings)
                console.print("Autotask connector: set up (settings chosen by label from the tenant)")
            summary = run_demo_sync(factory, org_id, settings, emu, console)
        except DemoError as exc:
            console.print(f"[red]Error:[/red] {safe(exc)}")
            raise typer.Exit(1) from exc
        finally:
            engine.dispose()
        print_summary(console, summary)
        hub_host = host or settings.host
        hub_port = port or settings.port
        if not once:
            console.print(f"Admin Hub: http://{hub_host}:{hub_port}/psa-integration  (Ctrl+C stops it)")
        if login.password:
            console.print(f"Login: {login.email}  password: {login.password}  (shown once; keep it)")
        else:
            console.print(
                f"Login: {login.email} (password printed when it was created; "
                "`psabridge demo --reset-password` prints a new one)"
            )
        if once:
            return
        import uvicorn

        from psabridge.web.app import create_app

        uvicorn.run(create_app(settings), host=hub_host, port=hub_port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root CLI."""
    app.command("demo")(demo_command)
