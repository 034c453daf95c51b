"""``psabridge user ...``: create the first admin (and more users) from the command line.

The Users tab needs an admin to be signed in, so the very first admin of an organization can only be
made here. Passwords are prompted for (hidden, confirmed) unless ``--password`` is given for scripts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.auth.models import User
from psabridge.auth.sessions import normalize_email
from psabridge.auth.users import UserError, create_user, list_users, set_password
from psabridge.config import get_settings
from psabridge.db import make_engine, make_sessionmaker, migrate, session_scope
from psabridge.hub.models import Organization

user_app = typer.Typer(
    help="Admin Hub users: create the first admin, list users, reset a password.", no_args_is_help=True
)


@contextmanager
def _db() -> Iterator[Session]:
    """One transaction on the configured database (migrated first, so a fresh install works)."""
    url = get_settings().resolved_database_url()
    migrate(url)
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as db:
            yield db
    finally:
        engine.dispose()


@user_app.command("create")
def create(
    org: str = typer.Option(..., "--org", help="Slug of the organization the user belongs to."),
    email: str = typer.Option(..., "--email", help="E-mail address; the login name."),
    role: str = typer.Option("viewer", "--role", help="admin (may change things) or viewer."),
    password: str | None = typer.Option(
        None, "--password", help="Initial password (prompted for, hidden, when omitted)."
    ),
) -> None:
    """Add a user to an organization."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _db() as db:
        organization = db.scalar(select(Organization).where(Organization.slug == org))
        if organization is None:
            typer.echo(f"Error: --org: no organization with slug {org!r}.", err=True)
            raise typer.Exit(code=2)
        try:
            user = create_user(db, organization.id, email=email, password=password, role=role)
        except UserError as exc:
            typer.echo(f"Error: --{exc.field.replace('_', '-')}: {exc.message}", err=True)
            raise typer.Exit(code=2) from exc
        typer.echo(f"Created {user.role} {user.email} in organization {organization.slug}.")


@user_app.command("set-password")
def set_password_(
    email: str = typer.Option(..., "--email", help="E-mail address of the user."),
    password: str | None = typer.Option(
        None, "--password", help="New password (prompted for, hidden, when omitted)."
    ),
) -> None:
    """Reset a user's password (for a locked-out admin); ends the user's sessions."""
    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _db() as db:
        user = db.scalar(select(User).where(User.email == normalize_email(email)))
        if user is None:
            typer.echo(f"Error: --email: no user {email!r}.", err=True)
            raise typer.Exit(code=2)
        try:
            set_password(db, user, password)
        except UserError as exc:
            typer.echo(f"Error: --{exc.field.replace('_', '-')}: {exc.message}", err=True)
            raise typer.Exit(code=2) from exc
        typer.echo(f"Password of {user.email} changed; their sessions were ended.")


@user_app.command("list")
def list_(org: str | None = typer.Option(None, "--org", help="Only this organization's users.")) -> None:
    """List users (never their password hashes)."""
    with _db() as db:
        org_id = None
        if org is not None:
            found = db.scalar(select(Organization.id).where(Organization.slug == org))
            if found is None:
                typer.echo(f"Error: --org: no organization with slug {org!r}.", err=True)
                raise typer.Exit(code=2)
            org_id = found
        slugs = {oid: slug for oid, slug in db.execute(select(Organization.id, Organization.slug))}
        table = Table("organization", "e-mail", "role", "status", "last sign-in")
        for user in list_users(db, org_id):
            table.add_row(
                slugs.get(user.organization_id, "?"),
                user.email,
                user.role,
                "active" if user.is_active else "deactivated",
                user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never",
            )
        Console(width=120).print(table)


def register(app: typer.Typer) -> None:
    """Add ``psabridge user`` to the root CLI."""
    app.add_typer(user_app, name="user")
