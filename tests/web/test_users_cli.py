"""`psabridge user create/list`: how the first admin of an organization comes to exist, and the user rules
the CLI and the Users tab share."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from psabridge.auth.models import User
from psabridge.auth.users import UserError, change_role, create_user, set_active
from psabridge.cli import app
from psabridge.hub.models import Organization
from psabridge.security.crypto import verify_password


def _org(db: Session, slug: str = "acme") -> Organization:
    org = Organization(name="Acme MSP", slug=slug)
    db.add(org)
    db.commit()
    return org


def test_user_create_and_list(settings: Any, db: Session) -> None:
    _org(db)
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["user", "create", "--org", "acme", "--email", "Boss@Acme.test", "--role", "admin"],
        input="first-admin-password\nfirst-admin-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created admin boss@acme.test in organization acme." in result.output
    assert "first-admin-password" not in result.output
    user = db.scalar(select(User).where(User.email == "boss@acme.test"))
    assert user is not None and user.role == "admin" and user.is_active
    assert verify_password(user.password_hash, "first-admin-password")

    listed = runner.invoke(app, ["user", "list"])
    assert listed.exit_code == 0
    assert "boss@acme.test" in listed.output and "admin" in listed.output
    assert user.password_hash not in listed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--org", "nope", "--email", "a@acme.test", "--password", "long-enough-pw"],
            "--org: no organization",
        ),
        (["--org", "acme", "--email", "not-an-email", "--password", "long-enough-pw"], "--email:"),
        (
            ["--org", "acme", "--email", "a@acme.test", "--password", "short"],
            "--password: must have at least",
        ),
        (
            ["--org", "acme", "--email", "a@acme.test", "--password", "long-enough-pw", "--role", "root"],
            "--role:",
        ),
    ],
)
def test_user_create_names_the_bad_option(settings: Any, db: Session, args: list[str], message: str) -> None:
    _org(db)
    result = CliRunner().invoke(app, ["user", "create", *args])
    assert result.exit_code == 2
    assert message in result.output
    db.expire_all()
    assert db.scalar(select(User)) is None


def test_email_is_unique_across_organizations(db: Session) -> None:
    acme, globex = _org(db, "acme"), _org(db, "globex")
    create_user(db, acme.id, email="ops@msp.test", password="long-enough-pw", role="admin")
    with pytest.raises(UserError) as err:
        create_user(db, globex.id, email="OPS@msp.test", password="long-enough-pw", role="admin")
    assert err.value.field == "email"


def test_an_organization_always_keeps_an_active_admin(db: Session) -> None:
    org = _org(db)
    only = create_user(db, org.id, email="only@acme.test", password="long-enough-pw", role="admin")
    with pytest.raises(UserError, match="only admin"):
        change_role(db, only, "viewer")
    with pytest.raises(UserError, match="only admin"):
        set_active(db, only, False)
    second = create_user(db, org.id, email="second@acme.test", password="long-enough-pw", role="admin")
    change_role(db, only, "viewer")
    assert only.role == "viewer"
    with pytest.raises(UserError, match="only admin"):
        set_active(db, second, False)


def test_user_set_password_resets_a_locked_out_admin(settings: Any, db: Session) -> None:
    org = _org(db)
    create_user(db, org.id, email="boss@acme.test", password="old-password-123", role="admin")
    db.commit()
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["user", "set-password", "--email", "BOSS@acme.test"],
        input="new-password-456\nnew-password-456\n",
    )
    assert result.exit_code == 0, result.output
    assert "new-password-456" not in result.output
    db.expire_all()
    user = db.scalar(select(User).where(User.email == "boss@acme.test"))
    assert user is not None
    assert verify_password(user.password_hash, "new-password-456")
    assert not verify_password(user.password_hash, "old-password-123")

    unknown = runner.invoke(
        app, ["user", "set-password", "--email", "nobody@acme.test", "--password", "x" * 12]
    )
    assert unknown.exit_code == 2
    assert "--email" in unknown.output

    short = runner.invoke(app, ["user", "set-password", "--email", "boss@acme.test", "--password", "short"])
    assert short.exit_code == 2
    assert "--password" in short.output
