"""Connector records: one Autotask connection per organization, and the cache of its live dropdown options.

The secret is stored only encrypted (``psabridge.security.crypto.SecretBox``): a copy of the database
without the key file reveals nothing usable. Dropdown options are cached per connector because every
one of them costs a call against the tenant's shared hourly API budget.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from psabridge.db import Base, utcnow


class ConnectorKind(StrEnum):
    """Kinds of connector PSA Bridge knows; only Autotask is implemented."""

    AUTOTASK = "autotask"


class ConnectorStatus(StrEnum):
    """Where a connector stands in its setup."""

    NEEDS_SETTINGS = "needs_settings"  # credentials saved and tested; required settings still missing
    SET_UP = "set_up"  # every required setting saved


class Connector(Base):
    """One PSA connection of an organization (at most one per kind)."""

    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("organization_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32), default=ConnectorKind.AUTOTASK.value)
    name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(255))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    integration_code: Mapped[str] = mapped_column(String(255))
    zone_name: Mapped[str] = mapped_column(String(255), default="")
    api_url: Mapped[str] = mapped_column(String(500), default="")
    web_url: Mapped[str] = mapped_column(String(500), default="")
    #: The API address before Autotask moved the tenant to another zone (found after a 401), and when.
    zone_changed_from: Mapped[str] = mapped_column(String(500), default="")
    zone_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    settings_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(32), default=ConnectorStatus.NEEDS_SETTINGS.value)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:  # never include the secret
        return f"<Connector id={self.id} org={self.organization_id} kind={self.kind} user={self.username!r}>"


class ConnectorOptionCache(Base):
    """Options of one dropdown (e.g. ``company_types``), as last read from the tenant."""

    __tablename__ = "connector_option_cache"
    __table_args__ = (UniqueConstraint("connector_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    json: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
