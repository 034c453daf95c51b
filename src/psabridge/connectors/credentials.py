"""Saving the Autotask connector's credentials: checked, discovered and tested before they are stored.

Credentials are tested live (zone discovery, login, and a probe of every permission the connector
needs) before anything is saved, so a connector is never stored that cannot work; a failed attempt
leaves what was saved untouched. Setup is interactive, so the calls fail fast.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from psabridge.autotask import AutotaskClient, AutotaskCredentials, RetryPolicy, ZoneInfo
from psabridge.autotask.errors import AutotaskError
from psabridge.config import Settings
from psabridge.connectors import options as opts
from psabridge.connectors import permissions
from psabridge.connectors.errors import (
    ConnectorError,
    explain_api_error,
    explain_zone_error,
)
from psabridge.connectors.models import Connector, ConnectorKind
from psabridge.connectors.queries import connector_settings, get_autotask_connector, status_for
from psabridge.security.crypto import SecretBox

log = logging.getLogger(__name__)
CONNECTOR_NAME = "datto | Autotask"
CREDENTIAL_TEST_TIMEOUT = 20.0


# Setup is interactive: a person waits for Save, so fail fast instead of the sync engine's long backoff.
SETUP_RETRY = RetryPolicy(max_attempts=2, initial_wait=0.2, max_wait=1.0, max_retry_after=2.0)
# zoneInformation takes no authentication; the client still wants complete credentials to exist.
_ZONE_ONLY = "zone-discovery-only"


#: How the credential fields are called on the form (errors name the field a person sees).
CREDENTIAL_LABELS = {"username": "Username", "secret": "Password", "integration_code": "Integration Code"}


def check_header_safe(field: str, value: str) -> None:
    """Autotask receives the credentials as HTTP headers, which carry only printable ASCII: anything
    else is refused here, naming the field, before any request (and before any encoding error could
    print a character of the secret and its position in a log)."""
    if all(" " <= char <= "~" for char in value):
        return
    label = CREDENTIAL_LABELS.get(field, field)
    raise ConnectorError(
        f"The {label} may contain only ASCII letters, digits and punctuation: Autotask receives it in an "
        "HTTP header. Copy it again from Autotask (an accent, a non-breaking space or a typographic quote "
        "may have crept in).",
        field=field,
    )


def discover_zone(
    username: str, app_settings: Settings, *, timeout: float = CREDENTIAL_TEST_TIMEOUT, refresh: bool = False
) -> ZoneInfo:
    """The zone of ``username`` through the server's zone-discovery address, or a ConnectorError."""
    username = username.strip()
    if not username:
        raise ConnectorError("Enter the Username of the Autotask API user.", field="username")
    check_header_safe("username", username)
    probe = AutotaskClient(
        AutotaskCredentials(username=username, secret=_ZONE_ONLY, integration_code=_ZONE_ONLY),
        zone_url=app_settings.autotask_zone_url,
        timeout=timeout,
        retry=SETUP_RETRY,
    )
    try:
        return probe.discover_zone(refresh=refresh)
    except AutotaskError as exc:
        raise explain_zone_error(exc, username, app_settings.autotask_zone_url) from exc
    finally:
        probe.close()


def test_credentials(
    username: str,
    secret: str,
    integration_code: str,
    app_settings: Settings,
    *,
    timeout: float = CREDENTIAL_TEST_TIMEOUT,
) -> ZoneInfo:
    """Discover the zone, log in, and probe the permissions the connector needs; the ZoneInfo on success.

    Autotask reports a missing permission on reads as an empty result, not an error, so a bare login
    would let a connector be saved that cannot work; the probes (about twenty cheap, harmless calls,
    once per Save) catch that here and name the permission.
    """
    zone = discover_zone(username, app_settings, timeout=timeout, refresh=True)
    client = AutotaskClient(
        AutotaskCredentials(username=username.strip(), secret=secret, integration_code=integration_code),
        base_url=zone.url,
        zone_url=app_settings.autotask_zone_url,
        timeout=timeout,
        retry=SETUP_RETRY,
    )
    try:
        report = permissions.check_permissions(client)
    except AutotaskError as exc:
        raise explain_api_error(exc, action="test the credentials") from exc
    finally:
        client.close()
    if not report.login_ok:
        raise ConnectorError(
            f"The API user may not use the Web Services API: {report.login_detail}", field="username"
        )
    if report.missing:
        raise ConnectorError(
            "The credentials work, but the API user's security level is missing: "
            + "; ".join(report.missing)
            + ". Grant these in Autotask (see How to create the Autotask API user), then save again."
        )
    if report.failed:
        details = "; ".join(r.detail for r in report.failed)
        raise ConnectorError(
            f"Autotask answered with an error while the credentials were tested: {details}. Nothing was "
            "saved; try again later.",
            upstream=True,
        )
    return zone


def create_or_update_connector(
    session: Session,
    organization_id: int,
    *,
    username: str,
    secret: str,
    integration_code: str,
    app_settings: Settings,
    timeout: float = CREDENTIAL_TEST_TIMEOUT,
    expected_api_url: str | None = None,
) -> Connector:
    """Test the credentials live, then store them (secret encrypted). Nothing is stored if the test fails.

    An empty ``secret`` on an existing connector keeps the stored one ("leave blank to keep").
    ``expected_api_url`` is the Environment the user confirmed on the form: if the zone discovered now
    differs, nothing is saved and the user confirms again.
    """
    username = username.strip()
    integration_code = integration_code.strip()
    existing = get_autotask_connector(session, organization_id)
    box = SecretBox.from_settings(app_settings)
    if not username:
        raise ConnectorError("Enter the Username of the Autotask API user.", field="username")
    if not integration_code:
        raise ConnectorError(
            "Enter the Integration Code (the API user's API tracking identifier).", field="integration_code"
        )
    check_header_safe("username", username)
    check_header_safe("integration_code", integration_code)
    if not secret:
        if existing is None:
            raise ConnectorError("Enter the Password (the API user's secret).", field="secret")
        secret = box.decrypt(existing.secret_encrypted)
    check_header_safe("secret", secret)

    zone = test_credentials(username, secret, integration_code, app_settings, timeout=timeout)
    if expected_api_url is not None and expected_api_url.rstrip("/") != str(zone.url).rstrip("/"):
        raise ConnectorError(
            f"The Environment of '{username}' is now {zone.zone_name} ({zone.url}), not the one confirmed. "
            "Check it and save again.",
            field="environment",
        )

    connector = existing or Connector(
        organization_id=organization_id,
        kind=ConnectorKind.AUTOTASK.value,
        name=CONNECTOR_NAME,
        settings_json={},
    )
    tenant_changed = existing is not None and (existing.username != username or existing.api_url != zone.url)
    connector.username = username
    connector.secret_encrypted = box.encrypt(secret)
    connector.integration_code = integration_code
    connector.zone_name = str(zone.zone_name)
    connector.api_url = str(zone.url)
    connector.web_url = str(zone.web_url or "")
    connector.status = status_for(connector_settings(connector))
    if existing is None:
        session.add(connector)
    session.commit()
    if tenant_changed:
        opts.clear_options(session, connector)  # cached picklists belong to the old user/tenant
    log.info(
        "autotask connector %s saved for organization %s (user %s, zone %s)",
        connector.id,
        organization_id,
        username,
        connector.zone_name,
    )
    return connector
