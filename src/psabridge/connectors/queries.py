"""Reading an organization's connectors and what their saved settings mean.

One place for "which connector is this organization's" (a connector of another organization is
invisible, not forbidden) and for the status its settings give it, so the pages, the API, the sync
engine and the use cases that save a connector agree on both.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.connectors.models import Connector, ConnectorKind, ConnectorStatus
from psabridge.connectors.settings import AutotaskConnectorSettings


def get_autotask_connector(session: Session, organization_id: int) -> Connector | None:
    """The organization's Autotask connector, if it has one."""
    return session.scalar(
        select(Connector).where(
            Connector.organization_id == organization_id, Connector.kind == ConnectorKind.AUTOTASK.value
        )
    )


def list_connectors(session: Session, organization_id: int) -> list[Connector]:
    """Every connector of the organization (the Integrations tab)."""
    return list(
        session.scalars(
            select(Connector).where(Connector.organization_id == organization_id).order_by(Connector.id)
        )
    )


def get_connector(session: Session, organization_id: int, connector_id: int) -> Connector | None:
    """A connector by id, only if it belongs to ``organization_id`` (others are invisible, not forbidden)."""
    return session.scalar(
        select(Connector).where(Connector.id == connector_id, Connector.organization_id == organization_id)
    )


def connector_settings(connector: Connector) -> AutotaskConnectorSettings:
    """The saved settings of ``connector`` (defaults for what was never saved)."""
    return AutotaskConnectorSettings.model_validate(connector.settings_json or {})


def status_for(settings: AutotaskConnectorSettings) -> str:
    """Set up once every required setting is chosen; until then it needs settings."""
    return ConnectorStatus.SET_UP.value if settings.is_set_up else ConnectorStatus.NEEDS_SETTINGS.value
