"""``psabridge demo``: the whole product on one laptop, in one command (``make run``).

It starts the Autotask emulator in this process (a thread on a free loopback port, its tenant kept in the
data directory so the Autotask side survives restarts), points zone discovery at it, creates the demo
organization and its admin, loads the sample data set, configures the Autotask connector exactly as a
user would (credentials tested live, every setting chosen *by label* from the tenant's own option
lists), runs one sync with progress bars, prints what happened, and serves the Admin Hub.

Running it again on the same data directory reuses everything: same organization, same admin, same
connector, same emulated tenant; the sync then plans nothing and writes nothing.

This is, with the ``emulator`` command, the only place outside the tests that imports
:mod:`psabridge.emulator`: the product itself talks to Autotask only through the client.
"""

from __future__ import annotations

import os
import secrets
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.cli_progress import PhaseProgress
from psabridge.cli_text import plain, safe
from psabridge.config import Settings, get_settings
from psabridge.connectors.declarations import PERIOD_LABELS as ALL_PERIOD_LABELS
from psabridge.connectors.declarations import SETTINGS

DEMO_ORG_NAME = "Demo MSP"
DEMO_ORG_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo-msp.example"
EMULATOR_STATE_FILE = "emulator-state.json"
#: The emulator's port, kept so connectors (of every organization in the data directory) keep a live URL.
EMULATOR_PORT_FILE = "emulator-port"
WRITE_VERBS = ("create", "update", "replace", "delete")

#: Labels the demo picks from the tenant's live option lists (never ids: they differ per tenant), from
#: the one declaration of each setting (psabridge.connectors.declarations).
LABELS: dict[str, tuple[str, ...]] = {s.name: s.demo for s in SETTINGS if s.demo}
#: Hub billing frequency -> period-type labels. Triennial is left unmapped on purpose: the tenant has
#: no such period type, and a triennial contract should show up as "Blocked" with the reason.
PERIOD_LABELS: dict[str, tuple[str, ...]] = {
    f: labels for f, labels in ALL_PERIOD_LABELS.items() if f != "triennial"
}
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


class DemoError(Exception):
    """The demo cannot go on (e.g. the tenant lacks an option the demo picks by label)."""


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str | None  # only when it was created (or reset) by this run


@dataclass(frozen=True)
class DemoSummary:
    """What one demo sync did: records per phase and status, problem rows, writes seen by Autotask."""

    run_id: int
    run_status: str
    api_calls: int
    autotask_writes: int
    per_phase: dict[str, dict[str, int]]
    problems: list[dict[str, Any]]


# --- the emulator --------------------------------------------------------------------------------------


def emulator_port(data_dir: Path, host: str = "127.0.0.1") -> int:
    """The port the demo's emulator used last time (kept in ``data_dir``) when it is free, else a free
    one, which is kept for next time: connectors store the emulator's URL, so a new port on every start
    left them pointing at nothing."""
    import socket

    stored = data_dir / EMULATOR_PORT_FILE
    try:
        port = int(stored.read_text().strip())
    except (OSError, ValueError):
        port = 0
    if port:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is free
            try:
                sock.bind((host, port))
            except OSError:
                port = 0
    if not port:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
    stored.write_text(f"{port}\n")
    return port


@contextmanager
def emulator_for(data_dir: Path) -> Iterator[Any]:
    """The Autotask emulator on loopback (same port as last time when free), its tenant persisted in
    ``data_dir``."""
    from psabridge.emulator.testing import running_emulator

    with running_emulator(state_file=data_dir / EMULATOR_STATE_FILE, port=emulator_port(data_dir)) as handle:
        yield handle


def _writes(calls: dict[str, Any]) -> int:
    """Write calls in the emulator's counters (``{"calls": {entity: {verb: n}}}``)."""
    return sum(
        n for verbs in calls.get("calls", {}).values() for verb, n in verbs.items() if verb in WRITE_VERBS
    )


# --- organization, admin, sample data --------------------------------------------------------------------


def ensure_organization(session: Session) -> Any:
    from psabridge.hub.models import Organization
    from psabridge.hub.orgs import create_organization

    org = session.scalar(select(Organization).where(Organization.slug == DEMO_ORG_SLUG))
    if org is None:
        org = create_organization(session, DEMO_ORG_NAME, DEMO_ORG_SLUG)
        session.commit()
    return org


def ensure_admin(session: Session, organization_id: int, *, reset_password: bool) -> DemoLogin:
    """The demo admin; a fresh random password is made (and returned, to print once) only when the user
    is created or ``reset_password`` is asked. It is stored hashed, like any other password."""
    from psabridge.auth.models import User
    from psabridge.auth.password_policy import password_problem
    from psabridge.auth.users import create_user, set_password

    user = session.scalar(
        select(User).where(User.organization_id == organization_id, User.email == DEMO_ADMIN_EMAIL)
    )
    password = secrets.token_urlsafe(12)
    while password_problem(password, DEMO_ADMIN_EMAIL):  # the policy refuses e.g. "admin" inside it
        password = secrets.token_urlsafe(12)
    if user is None:
        create_user(session, organization_id, email=DEMO_ADMIN_EMAIL, password=password, role="admin")
        session.commit()
        return DemoLogin(DEMO_ADMIN_EMAIL, password)
    if reset_password:
        set_password(session, user, password)
        session.commit()
        return DemoLogin(DEMO_ADMIN_EMAIL, password)
    return DemoLogin(DEMO_ADMIN_EMAIL, None)


# --- the connector -------------------------------------------------------------------------------------


def _pick(options: list[Any], setting: str, labels: tuple[str, ...]) -> int:
    from psabridge.connectors import options as opts

    found = opts.find_by_label(options, *labels)
    if found is None:
        available = ", ".join(sorted({o.label for o in options if o.is_active})) or "none"
        raise DemoError(
            f"The Autotask tenant has no active option {' / '.join(labels)!r} for {setting} "
            f"(available: {available})"
        )
    return int(found.value)


def settings_by_label(lists: dict[str, list[Any]], manufacturers: list[str]) -> Any:
    """Connector settings chosen by label from the tenant's option lists (``load_option_lists``).

    Manufacturers need the vendor companies of the *saved* vendor type, so they are filled in only when
    ``lists`` holds ``"vendors"`` (the second save).
    """
    from psabridge.connectors.service import SETTING_OPTION_KEYS
    from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency

    values: dict[str, Any] = {}
    for setting, labels in LABELS.items():
        key = SETTING_OPTION_KEYS.get(setting)
        if setting == "setup_fee_billing_code_id":
            options = lists.get("product_billing_codes", []) + lists.get("service_billing_codes", [])
        else:
            assert key is not None
            options = lists.get(key, [])
        values[setting] = _pick(options, setting, labels)
    periods = lists.get("period_types", [])
    values["billing_frequencies"] = {
        BillingFrequency(freq): _pick(periods, f"billing frequency {freq}", labels)
        for freq, labels in PERIOD_LABELS.items()
    }
    contract_periods = lists.get("contract_period_types", [])
    values["contract_period_types"] = {
        BillingFrequency(freq): _pick(contract_periods, f"contract period of {freq}", labels)
        for freq, labels in PERIOD_LABELS.items()
    }
    vendors = lists.get("vendors")
    if vendors is not None:
        from psabridge.connectors import options as opts

        values["manufacturers"] = {
            name: int(found.value)
            for name in manufacturers
            if (found := opts.find_by_label(vendors, name)) is not None
        }
    values["setup_fee_enabled"] = True
    values["time_reporting_requires_start_and_stop_times"] = False
    values["allow_duplicated_services"] = False
    return AutotaskConnectorSettings(**values)


def ensure_connector(session: Session, organization_id: int, emu: Any, app_settings: Settings) -> Any:
    """Create (or re-point at this run's emulator port) the Autotask connector and, if it is not set up
    yet, choose its settings by label in two saves (Manufacturers need a saved Default Vendor Type)."""
    from psabridge.connectors import service as connectors
    from psabridge.hub.models import Product

    username, secret, code = emu.credentials
    connector = connectors.get_autotask_connector(session, organization_id)
    if connector is None or connector.api_url.rstrip("/") != emu.api_url.rstrip("/"):
        connector = connectors.create_or_update_connector(
            session,
            organization_id,
            username=username,
            secret=secret,
            integration_code=code,
            app_settings=app_settings,
        )
    if connectors.connector_settings(connector).is_set_up:
        return connector
    makers = sorted(
        {
            m
            for m in session.scalars(
                select(Product.manufacturer).where(Product.organization_id == organization_id)
            )
            if m
        }
    )
    lists = connectors.load_option_lists(session, connector, app_settings)
    first = settings_by_label(lists, makers)
    connectors.save_settings(session, connector, first, app_settings=app_settings)
    lists = connectors.load_option_lists(session, connector, app_settings)
    connectors.save_settings(session, connector, settings_by_label(lists, makers), app_settings=app_settings)
    return connector


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
