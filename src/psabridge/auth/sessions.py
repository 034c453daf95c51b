"""Sign-in and server-side sessions: the only code that turns a password or a cookie into a user.

The cookie carries a random 256-bit token; the database keeps only its SHA-256 (``WebSession.id``), so
reading the table does not let anyone take over a session. Deleting the row logs the browser out at
once, and a deactivated user's sessions stop working on their next request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from psabridge.auth.models import User, WebSession
from psabridge.db import utcnow
from psabridge.security.crypto import hash_password, password_needs_rehash, verify_password

SESSION_COOKIE = "psab_session"

# Verifying against a real hash when the e-mail is unknown keeps the response time the same, so the
# login form does not reveal which addresses have accounts.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def hash_token(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone=True columns; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def authenticate(db: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (same answer for every kind of failure)."""
    user = db.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


@dataclass(frozen=True)
class NewSession:
    """A session just created: ``token`` goes into the cookie and is not stored anywhere else."""

    token: str
    record: WebSession


def start_session(db: Session, user: User, ttl: timedelta) -> NewSession:
    """Create a session for ``user`` (caller commits) and record the login time."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = WebSession(
        id=hash_token(token),
        user_id=user.id,
        csrf_token=new_csrf_token(),
        created_at=now,
        expires_at=now + ttl,
    )
    user.last_login_at = now
    db.add(record)
    # Opportunistic clean-up so the table does not grow without bound.
    db.execute(delete(WebSession).where(WebSession.expires_at < now))
    return NewSession(token=token, record=record)


def load_session(db: Session, token: str | None) -> WebSession | None:
    """The live session for a cookie token: not expired and belonging to an active user."""
    if not token or len(token) > 200:
        return None
    record = db.get(WebSession, hash_token(token))
    if record is None:
        return None
    if _aware(record.expires_at) <= utcnow() or not record.user.is_active:
        return None
    return record


def end_session(db: Session, token: str | None) -> None:
    """Forget the session behind ``token`` (caller commits); unknown tokens are ignored."""
    if token:
        db.execute(delete(WebSession).where(WebSession.id == hash_token(token)))


def end_user_sessions(db: Session, user_id: int) -> None:
    """Log a user out everywhere (deactivation, password change)."""
    db.execute(delete(WebSession).where(WebSession.user_id == user_id))
