"""Managing the users of an organization: one place for the rules the CLI and the Users tab share.

Rules: e-mail addresses are valid and unique installation-wide; passwords follow
``psabridge.auth.password_policy``; an organization always keeps at least one active admin, so nobody
can lock their own organization out of its Admin Hub.
"""

from __future__ import annotations

from collections.abc import Sequence

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from psabridge.auth.models import USER_ROLES, User
from psabridge.auth.password_policy import MIN_LENGTH, password_problem
from psabridge.auth.sessions import end_user_sessions, normalize_email
from psabridge.security.crypto import hash_password

MIN_PASSWORD_LENGTH = MIN_LENGTH


class UserError(ValueError):
    """A request about users that breaks a rule; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _check_role(role: str) -> str:
    if role not in USER_ROLES:
        raise UserError("role", f"must be one of {', '.join(USER_ROLES)} (got {role!r})")
    return role


def _check_email(email: str) -> str:
    try:
        return normalize_email(
            validate_email(email.strip(), check_deliverability=False, test_environment=True).normalized
        )
    except EmailNotValidError as exc:
        raise UserError("email", f"{email!r} is not a valid e-mail address ({exc})") from exc


def check_password(password: str, email: str | None = None) -> str:
    """The password if the policy accepts it for the user with ``email``; else ``UserError``."""
    problem = password_problem(password, email)
    if problem:
        raise UserError("password", problem)
    return password


def create_user(db: Session, organization_id: int, *, email: str, password: str, role: str) -> User:
    """Add a user to an organization (caller commits). Raises ``UserError`` naming the bad field."""
    address = _check_email(email)
    _check_role(role)
    check_password(password, address)
    if db.scalar(select(User.id).where(User.email == address)) is not None:
        raise UserError("email", f"a user with e-mail {address} already exists")
    user = User(
        organization_id=organization_id,
        email=address,
        password_hash=hash_password(password),
        role=role,
        is_active=True,
    )
    db.add(user)
    db.flush()
    return user


def list_users(db: Session, organization_id: int | None = None) -> Sequence[User]:
    """Users, of one organization or (CLI) of all, ordered by e-mail."""
    query = select(User).order_by(User.organization_id, User.email)
    if organization_id is not None:
        query = query.where(User.organization_id == organization_id)
    return db.scalars(query).all()


def get_org_user(db: Session, organization_id: int, user_id: int) -> User | None:
    """The user with ``user_id`` if it belongs to ``organization_id`` (other tenants' users: None)."""
    user = db.get(User, user_id)
    return user if user is not None and user.organization_id == organization_id else None


def _other_active_admins(db: Session, user: User) -> int:
    return (
        db.scalar(
            select(func.count(User.id)).where(
                User.organization_id == user.organization_id,
                User.role == "admin",
                User.is_active.is_(True),
                User.id != user.id,
            )
        )
        or 0
    )


def change_role(db: Session, user: User, role: str) -> None:
    """Make ``user`` admin or viewer; the organization's last active admin cannot be demoted."""
    _check_role(role)
    if user.role == "admin" and role != "admin" and user.is_active and _other_active_admins(db, user) == 0:
        raise UserError("role", f"{user.email} is the organization's only admin; add another admin first")
    user.role = role


def set_active(db: Session, user: User, active: bool) -> None:
    """Deactivate (logging the user out everywhere) or reactivate a user."""
    if not active and user.role == "admin" and user.is_active and _other_active_admins(db, user) == 0:
        raise UserError(
            "is_active", f"{user.email} is the organization's only admin and cannot be deactivated"
        )
    user.is_active = active
    if not active:
        end_user_sessions(db, user.id)


def set_password(db: Session, user: User, password: str) -> None:
    """Replace the password and end existing sessions."""
    user.password_hash = hash_password(check_password(password, user.email))
    end_user_sessions(db, user.id)
