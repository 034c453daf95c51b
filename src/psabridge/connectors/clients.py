"""Autotask clients for a saved connector: the stored secret decrypted in memory only.

Every client of a connector is built here, so each one gets the configured hourly budget cap and
records a zone move (a re-discovery after a 401) on the connector row; :class:`LazyClient` builds one
only when a cached option list does not suffice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache

from psabridge.autotask import AutotaskClient, AutotaskCredentials, ZoneInfo
from psabridge.autotask.redis_limits import RedisLimits
from psabridge.config import Settings
from psabridge.connectors.models import Connector
from psabridge.security.crypto import SecretBox

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def shared_limits(redis_url: str, prefix: str) -> RedisLimits:
    """The Autotask limits every worker shares through Redis (one connection pool per URL)."""
    return RedisLimits.from_url(redis_url, prefix=f"{prefix}:autotask")


def build_client(connector: Connector, app_settings: Settings, **client_options: object) -> AutotaskClient:
    """An Autotask client for the connector's tenant, with the stored secret decrypted in memory only."""
    secret = SecretBox.from_settings(app_settings).decrypt(connector.secret_encrypted)
    credentials = AutotaskCredentials(
        username=connector.username, secret=secret, integration_code=connector.integration_code
    )
    if app_settings.autotask_hourly_budget_cap is not None:
        client_options.setdefault("hourly_budget_cap", _budget_cap(app_settings.autotask_hourly_budget_cap))
    if app_settings.broker_url:
        # several workers: the 3-per-endpoint slots, the hourly usage and the ThresholdInformation
        # reading (the back-off past 50%/75%) are shared through Redis
        client_options.setdefault("limits", shared_limits(app_settings.broker_url, app_settings.redis_prefix))
    return AutotaskClient(
        credentials,
        known_api_url=connector.api_url or None,
        on_zone_change=_zone_change_recorder(connector.id, app_settings),
        zone_url=app_settings.autotask_zone_url,
        **client_options,  # type: ignore[arg-type]
    )


def _zone_change_recorder(connector_id: int, app_settings: Settings) -> Callable[[ZoneInfo, str], None]:
    """Save the address Autotask moved the tenant to (found by re-discovery after a 401), so every later
    client uses it and the connector page can say what happened. A short session of its own: the caller
    may be a sync thread in the middle of its work."""

    def record(zone: ZoneInfo, old_url: str) -> None:
        from psabridge.db import make_engine, make_sessionmaker, utcnow

        engine = make_engine(app_settings.resolved_database_url())
        try:
            with make_sessionmaker(engine)() as session:
                connector = session.get(Connector, connector_id)
                if connector is None or connector.api_url.rstrip("/") == zone.url.rstrip("/"):
                    return
                connector.zone_changed_from = connector.api_url or old_url
                connector.zone_changed_at = utcnow()
                connector.zone_name = str(zone.zone_name)
                connector.api_url = str(zone.url)
                connector.web_url = str(zone.web_url or "")
                session.commit()
        finally:
            engine.dispose()
        log.warning(
            "Autotask connector %s: tenant moved to %s (%s); saved the new address",
            connector_id,
            zone.zone_name,
            zone.url,
        )

    return record


def _budget_cap(value: float) -> float | int:
    """The configured cap as the client takes it: a fraction of the threshold, or whole calls per hour."""
    return value if value <= 1 else int(value)


class LazyClient:
    """Builds the connector's client on first use (cached option lists need none); closes what it built."""

    def __init__(self, connector: Connector, app_settings: Settings) -> None:
        self._connector = connector
        self._app_settings = app_settings
        self._client: AutotaskClient | None = None

    def __call__(self) -> AutotaskClient:
        if self._client is None:
            self._client = build_client(self._connector, self._app_settings)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
