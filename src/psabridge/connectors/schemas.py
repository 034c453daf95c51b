"""Request and response shapes of ``/api/v1/connectors``. No response shape has a field for the secret."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from psabridge.connectors.models import Connector
from psabridge.connectors.options import Option
from psabridge.connectors.queries import connector_settings
from psabridge.connectors.settings import AutotaskConnectorSettings


def _aware(moment: datetime) -> datetime:
    """UTC-aware (SQLite hands timestamps back naive; they were written in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class CredentialsIn(BaseModel):
    """Credentials of the Autotask API user. ``secret`` may be empty on update to keep the stored one."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=255)
    secret: str = Field(default="", max_length=1000, description="The API user's secret (write-only).")
    integration_code: str | None = Field(
        default=None, max_length=255, description="API tracking identifier; defaults to the server's."
    )


class ConnectorOut(BaseModel):
    """A connector as the API shows it: everything but the secret."""

    id: int
    kind: str
    name: str
    username: str
    integration_code: str
    zone_name: str
    api_url: str
    web_url: str
    status: str
    is_set_up: bool
    missing_settings: list[str]
    has_secret: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, connector: Connector) -> ConnectorOut:
        settings = connector_settings(connector)
        return cls(
            id=connector.id,
            kind=connector.kind,
            name=connector.name,
            username=connector.username,
            integration_code=connector.integration_code,
            zone_name=connector.zone_name,
            api_url=connector.api_url,
            web_url=connector.web_url,
            status=connector.status,
            is_set_up=settings.is_set_up,
            missing_settings=settings.missing_required(),
            has_secret=bool(connector.secret_encrypted),
            created_at=_aware(connector.created_at),
            updated_at=_aware(connector.updated_at),
        )


class SettingsOut(BaseModel):
    settings: AutotaskConnectorSettings
    is_set_up: bool
    missing_settings: list[str]


class ZoneOut(BaseModel):
    zone_name: str
    api_url: str
    web_url: str


class OptionsOut(BaseModel):
    lists: dict[str, list[Option]]
    fetched_at: datetime | None

    @classmethod
    def of(cls, lists: dict[str, list[Option]], fetched_at: datetime | None) -> OptionsOut:
        return cls(lists=lists, fetched_at=_aware(fetched_at) if fetched_at else None)
