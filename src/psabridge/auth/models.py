"""Users of the Admin Hub and their server-side web sessions.

E-mail addresses are unique across the whole installation (stored lower-cased), not just per
organization: the login form asks only for e-mail and password, so the address alone must identify
exactly one user and hence one organization. An MSP that runs several organizations uses one address
per organization (as with any SaaS admin console).

Sessions are stored server-side so logout and deactivation take effect immediately; the cookie holds a
random token and the table holds only its SHA-256 hash, so a copy of the database cannot be used to
impersonate anyone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from psabridge.db import Base, utcnow
from psabridge.hub.models import Organization

USER_ROLES: Final = ("admin", "viewer")


class User(Base):
    """A person who signs in to one organization's Admin Hub as admin (may change things) or viewer."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    organization: Mapped[Organization] = relationship()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:  # no password hash in logs or tracebacks
        return f"User(id={self.id!r}, email={self.email!r}, role={self.role!r})"


class WebSession(Base):
    """One signed-in browser. ``id`` is the SHA-256 hex of the cookie token, never the token itself."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: Per-session synchronizer token echoed by every form (hidden field) and htmx request (header).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"WebSession(user_id={self.user_id!r}, expires_at={self.expires_at!r})"
