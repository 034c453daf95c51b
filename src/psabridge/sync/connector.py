"""The organization's Autotask connector as the sync engine uses it: its settings, a client, and what
the planner must know of the tenant besides records (cached with the connector's options)."""

from __future__ import annotations

from typing import cast

from sqlalchemy.orm import Session

from psabridge.config import Settings
from psabridge.connectors.models import Connector
from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.sync.errors import SyncError
from psabridge.sync.reader import AutotaskApi
from psabridge.sync.snapshot import TenantFacts


def connector_of(session: Session, organization_id: int) -> tuple[Connector, AutotaskConnectorSettings]:
    """The organization's Autotask connector and its settings, or :class:`SyncError`."""
    from psabridge.connectors import service as connectors

    connector = connectors.get_autotask_connector(session, organization_id)
    if connector is None:
        raise SyncError("This organization has no Autotask connector: set one up under Integrations")
    return connector, connectors.connector_settings(connector)


def client_of(connector: Connector, app_settings: Settings) -> AutotaskApi:
    """A client of the connector's tenant (the stored secret decrypted in memory only)."""
    from psabridge.connectors import service as connectors

    client: AutotaskApi = connectors.build_client(connector, app_settings)
    return client


def tenant_facts(
    session: Session, connector: Connector, settings: AutotaskConnectorSettings, client: AutotaskApi
) -> TenantFacts:
    """What the planner needs to know of the tenant besides records: the maximum lengths of the fields
    it writes (read once, cached with the connector's options), the resources by e-mail when companies
    are owned by the account owner's resource (the cached Default Owner Source list), and period-type
    labels (from the cache of the settings dropdowns, when it holds them: only to word plan notices)."""
    from psabridge.connectors import options as opts
    from psabridge.connectors.settings import OwnerSource

    factory = cast(opts.ClientFactory, lambda: client)
    labels = {
        key: {o.value: o.label for o in (opts.cached_options(session, connector, key) or [])}
        for key in ("period_types", "contract_period_types")
    }
    by_email: dict[str, int] = {}
    if settings.owner_source == OwnerSource.ACCOUNT_OWNER_EMAIL:
        for option in opts.get_options(session, connector, opts.RESOURCES, factory):
            if option.is_active and option.detail:
                by_email.setdefault(option.detail.strip().lower(), option.value)
    return TenantFacts(
        field_lengths=opts.field_lengths(session, connector, factory),
        period_labels=labels["period_types"],
        contract_period_labels=labels["contract_period_types"],
        resources_by_email=by_email,
    )
