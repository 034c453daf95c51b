"""CLI commands of the billing hub: organizations, API tokens, import, sample data, mismatch report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from psabridge.cli_text import plain, safe
from psabridge.hub.errors import HubError
from psabridge.hub.models import Organization

OrgOption = typer.Option(None, "--org", help="Organization slug (default: the only organization).")

org_app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
token_app = typer.Typer(help="Organization-scoped API tokens for the REST API.", no_args_is_help=True)
hub_app = typer.Typer(help="Billing hub reports.", no_args_is_help=True)


@contextmanager
def _session() -> Iterator[Session]:
    """A migrated database session committed on success; domain errors end the command with exit 1."""
    from psabridge.config import get_settings
    from psabridge.db import make_engine, make_sessionmaker, migrate, session_scope

    url = get_settings().resolved_database_url()
    migrate(url)
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    except HubError as exc:
        err = Console(stderr=True)
        err.print(f"[red]Error:[/red] {safe(exc.detail)}", highlight=False)
        for e in exc.errors:
            where = f"line {e.line}: " if e.line is not None else ""
            err.print(plain(f"  {where}{e.field}: {e.message}"), highlight=False)
        raise typer.Exit(1) from exc
    except IntegrityError as exc:  # a concurrent writer won a race the checks could not see
        Console(stderr=True).print(
            f"[red]Error:[/red] the database refused the change (nothing was written): {safe(exc.orig)}",
            highlight=False,
        )
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()


def _organization(session: Session, slug: str | None) -> Organization:
    from psabridge.hub.orgs import get_organization, only_organization

    return get_organization(session, slug) if slug else only_organization(session)


@org_app.command("create")
def org_create(
    name: str = typer.Argument(..., help="Display name, e.g. 'Contoso IT'."),
    slug: str | None = typer.Option(None, help="Short unique id used by --org (default: from the name)."),
    time_zone: str | None = typer.Option(
        None, "--time-zone", help="IANA time zone of the organization's dates (default: the server's)."
    ),
) -> None:
    """Create an organization (tenant)."""
    from psabridge.hub.calendar import describe
    from psabridge.hub.orgs import create_organization

    with _session() as session:
        org = create_organization(session, name, slug, time_zone=time_zone)
        typer.echo(
            f"Created organization {org.name!r} (slug: {org.slug}, id: {org.id}, "
            f"time zone: {describe(org.time_zone)})"
        )


@org_app.command("set-time-zone")
def org_set_time_zone(
    time_zone: str = typer.Argument(
        ..., help="IANA time zone, e.g. America/Los_Angeles; 'local' for the server's zone."
    ),
    org: str | None = OrgOption,
) -> None:
    """Set the time zone whose calendar dates the sync pushes (seat changes, cancellations)."""
    from psabridge.hub.calendar import describe
    from psabridge.hub.orgs import set_time_zone

    with _session() as session:
        organization = _organization(session, org)
        changed = set_time_zone(session, organization.id, None if time_zone == "local" else time_zone)
        typer.echo(f"{changed.slug}: time zone {describe(changed.time_zone)}")


@org_app.command("list")
def org_list() -> None:
    """List organizations."""
    from sqlalchemy import select

    with _session() as session:
        for org in session.scalars(select(Organization).order_by(Organization.id)):
            typer.echo(f"{org.slug}\t{org.name}\t{org.time_zone or 'local'}")


@token_app.command("create")
def token_create(
    org: str = typer.Option(..., "--org", help="Organization slug."),
    role: str = typer.Option(..., "--role", help="admin (read and change) or viewer (read only)."),
    name: str = typer.Option("API token", "--name", help="A label to recognise the token by."),
) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    from psabridge.hub.orgs import create_api_token, get_organization

    with _session() as session:
        token, plain = create_api_token(session, get_organization(session, org), role=role, name=name)
        typer.echo(plain)
        typer.echo(
            f"Token {token.id} ({token.role}) for {org}: store it now, it cannot be shown again.", err=True
        )


@token_app.command("list")
def token_list(org: str = typer.Option(..., "--org", help="Organization slug.")) -> None:
    """List an organization's API tokens (prefix, role, last use; never the token)."""
    from sqlalchemy import select

    from psabridge.hub.models import ApiToken
    from psabridge.hub.orgs import get_organization

    with _session() as session:
        organization = get_organization(session, org)
        tokens = session.scalars(
            select(ApiToken).where(ApiToken.organization_id == organization.id).order_by(ApiToken.id)
        )
        typer.echo("id\trole\tprefix\tlast used\tstatus\tname")
        for t in tokens:
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            state = "revoked" if t.revoked else "active"
            typer.echo(f"{t.id}\t{t.role}\t{t.token_prefix}…\t{used}\t{state}\t{t.name}")


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="Token id (see `psabridge token list`)."),
    org: str = typer.Option(..., "--org", help="Organization slug."),
) -> None:
    """Revoke an API token: it stops working at once."""
    from psabridge.hub.orgs import get_organization, revoke_api_token

    with _session() as session:
        revoke_api_token(session, get_organization(session, org).id, token_id)
        typer.echo(f"Token {token_id} revoked.")


def import_command(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="CSV or JSON files."),
    org: str | None = OrgOption,
    record_type: str | None = typer.Option(
        None,
        "--type",
        help="Record type of the files (account, contact, product, billing_contract, "
        "subscription, license_change_log); default: from the file.",
    ),
    file_format: str | None = typer.Option(None, "--format", help="csv or json (default: from the name)."),
) -> None:
    """Import billing records from CSV/JSON; all files in one transaction, all or nothing."""
    from psabridge.hub.imports.formats import Upload, parse_path
    from psabridge.hub.imports.runner import run_import

    with _session() as session:
        organization = _organization(session, org)
        upload = Upload(", ".join(f.name for f in files))
        for path in files:
            upload.merge(parse_path(path, record_type=record_type, file_format=file_format))
        results = run_import(session, organization.id, upload)
        table = Table(title=f"Imported into {organization.slug}")
        for col in ("Type", "Created", "Updated", "Unchanged", "Logs recorded"):
            table.add_column(col)
        for r in results:
            table.add_row(
                r.record_type, str(r.created), str(r.updated), str(r.unchanged), str(r.logs_created)
            )
        Console().print(table)


def sample_data_command(
    customers: int = typer.Option(..., "--customers", min=1, max=100_000, help="Number of customers."),
    org: str | None = typer.Option(
        None, "--org", help="Organization slug (created if missing; default: the only one, or 'demo')."
    ),
    seed: int = typer.Option(1, "--seed", help="Same seed, same data."),
) -> None:
    """Generate a deterministic, realistic MSP data set (Microsoft 365, backup, seat changes over a year)."""
    from sqlalchemy import select

    from psabridge.hub.orgs import create_organization
    from psabridge.hub.sample_data import generate

    with _session() as session:
        if org:
            organization = session.scalar(select(Organization).where(Organization.slug == org))
            organization = organization or create_organization(session, org.replace("-", " ").title(), org)
        else:
            orgs = list(session.scalars(select(Organization).limit(2)))
            if len(orgs) > 1:
                raise HubError("Several organizations exist: pass --org SLUG.")
            organization = orgs[0] if orgs else create_organization(session, "Demo MSP", "demo")
        stats = generate(session, organization, customers=customers, seed=seed)
        typer.echo(f"Sample data for {organization.slug}: " + ", ".join(f"{v} {k}" for k, v in stats.items()))


@hub_app.command("mismatches")
def mismatches_command(org: str | None = OrgOption) -> None:
    """Subscriptions whose active license change logs don't add up to their quantity (exit 1 if any)."""
    from psabridge.hub.reports import mismatches

    with _session() as session:
        organization = _organization(session, org)
        found = mismatches(session, organization.id)
        if not found:
            typer.echo(f"No mismatches in {organization.slug}: every subscription's logs add up.")
            return
        table = Table(title=f"{len(found)} subscription(s) whose logs don't add up")
        for col in ("Subscription", "Quantity", "Logged", "Difference", "Active logs"):
            table.add_column(col)
        for m in found:
            table.add_row(
                plain(m.subscription_external_id),
                str(m.quantity),
                str(m.logged_quantity),
                f"{m.difference:+d}",
                str(m.active_log_count),
            )
        Console().print(table)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the hub's commands to the root CLI."""
    app.add_typer(org_app, name="org")
    app.add_typer(token_app, name="token")
    app.add_typer(hub_app, name="hub")
    app.command("import")(import_command)
    app.command("sample-data")(sample_data_command)
