"""The Autotask connector's use cases: save tested credentials, build a client, validate and save settings.

The web pages, the REST API and the sync engine all go through here, so a rule (credentials are tested
before they are stored; a setting must exist and be active in the tenant; Manufacturers need a saved
Default Vendor Type) holds no matter where a change comes from. A failed attempt never changes what was
saved: every check runs before the row is touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.autotask import AutotaskClient, AutotaskCredentials, RetryPolicy, ZoneInfo
from psabridge.autotask.errors import AutotaskError
from psabridge.autotask.redis_limits import RedisLimits
from psabridge.config import Settings, get_settings
from psabridge.connectors import options as opts
from psabridge.connectors import permissions
from psabridge.connectors.declarations import PERIOD_LABELS, SETTINGS, Kind
from psabridge.connectors.errors import (
    ConnectorError,
    SettingsValidationError,
    explain_api_error,
    explain_zone_error,
)
from psabridge.connectors.models import Connector, ConnectorKind, ConnectorStatus
from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency
from psabridge.security.crypto import SecretBox

log = logging.getLogger(__name__)

CONNECTOR_NAME = "datto | Autotask"
RECURRING_SERVICE_LABEL = "Recurring Service"
CREDENTIAL_TEST_TIMEOUT = 20.0

# Derived from the one declaration of every setting (psabridge.connectors.declarations).
#: Recommended choices (by label), preselected on the settings form while a setting is still empty.
RECOMMENDED_LABELS: dict[str, tuple[str, ...]] = {s.name: s.recommended for s in SETTINGS if s.recommended}
RECOMMENDED_PERIODS: dict[BillingFrequency, tuple[str, ...]] = {
    BillingFrequency(freq): labels for freq, labels in PERIOD_LABELS.items()
}
#: Which option list each single-valued setting must come from.
SETTING_OPTION_KEYS: dict[str, str] = {
    s.name: s.option_key for s in SETTINGS if s.kind == Kind.CHOICE and s.option_key
}
#: Setting names as the Admin Hub shows them (used in messages).
SETTING_LABELS: dict[str, str] = {s.name: s.label for s in SETTINGS}


# --- reading -------------------------------------------------------------------------------------------


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


# --- credentials -------------------------------------------------------------------------------------


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
    connector.status = _status_for(connector_settings(connector))
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


def _status_for(settings: AutotaskConnectorSettings) -> str:
    return ConnectorStatus.SET_UP.value if settings.is_set_up else ConnectorStatus.NEEDS_SETTINGS.value


# --- settings ----------------------------------------------------------------------------------------


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


def _lookup(
    session: Session,
    connector: Connector,
    key: str,
    value: int,
    factory: Callable[[], AutotaskClient],
) -> opts.Option | None:
    """The option ``value`` of list ``key``; re-read once from Autotask if the cache does not have it."""
    found = opts.find(opts.get_options(session, connector, key, factory), value)
    if found is None:
        found = opts.find(opts.get_options(session, connector, key, factory, refresh=True), value)
    return found


def validate_settings(
    session: Session,
    connector: Connector,
    new: AutotaskConnectorSettings,
    factory: Callable[[], AutotaskClient],
) -> dict[str, str]:
    """Every reason ``new`` cannot be saved, by setting name (empty when it can)."""
    errors: dict[str, str] = {}
    saved = connector_settings(connector)

    def check(name: str, key: str, value: int | None, what: str) -> opts.Option | None:
        if value is None:
            return None
        option = _lookup(session, connector, key, value, factory)
        if option is None:
            errors[name] = f"{what} {value} does not exist in Autotask."
        elif not option.is_active:
            errors[name] = f"{what} '{option.label}' is inactive in Autotask."
        return option

    for name, key in SETTING_OPTION_KEYS.items():
        chosen = check(name, key, getattr(new, name), "The chosen value")
        if (
            name == "default_contract_type"
            and chosen is not None
            and name not in errors
            and chosen.label.strip().lower() != RECURRING_SERVICE_LABEL.lower()
        ):
            errors[name] = (
                f"Contract type '{chosen.label}' cannot hold contract services: only "
                f"'{RECURRING_SERVICE_LABEL}' contracts can, and every subscription becomes a contract "
                f"service. Choose '{RECURRING_SERVICE_LABEL}'."
            )

    if new.setup_fee_billing_code_id is not None:
        code = new.setup_fee_billing_code_id
        known = _lookup(session, connector, opts.PRODUCT_BILLING_CODES, code, factory) or _lookup(
            session, connector, opts.SERVICE_BILLING_CODES, code, factory
        )
        if known is None:
            errors["setup_fee_billing_code_id"] = f"Billing code {code} does not exist in Autotask."
        elif not known.is_active:
            errors["setup_fee_billing_code_id"] = f"Billing code '{known.label}' is inactive in Autotask."
    elif new.setup_fee_enabled:
        errors["setup_fee_billing_code_id"] = "Choose the billing code used to charge setup fees."

    for frequency, period in new.billing_frequencies.items():
        option = _lookup(session, connector, "period_types", period, factory)
        if option is None or not option.is_active:
            errors["billing_frequencies"] = (
                f"Period type {period} chosen for {frequency.value} is not an active period type in Autotask."
            )
    for frequency, period in new.contract_period_types.items():
        option = _lookup(session, connector, "contract_period_types", period, factory)
        if option is None or not option.is_active:
            errors["billing_frequencies"] = (
                f"Contract period type {period} chosen for {frequency.value} is not an active contract period "
                "type in Autotask."
            )
    half = sorted(f.value for f in set(new.billing_frequencies) ^ set(new.contract_period_types))
    if half and "billing_frequencies" not in errors:
        errors["billing_frequencies"] = (
            f"Choose both a service period type and a contract period type for {', '.join(half)} "
            "(or neither, to leave it unmapped)."
        )

    if new.manufacturers:
        errors.update(_manufacturer_errors(session, connector, saved, new, factory))
    return errors


def _manufacturer_errors(
    session: Session,
    connector: Connector,
    saved: AutotaskConnectorSettings,
    new: AutotaskConnectorSettings,
    factory: Callable[[], AutotaskClient],
) -> dict[str, str]:
    """The Manufacturers rule: only after Default Vendor Type is saved, and only companies of that type."""
    vendor_type = saved.default_vendor_type
    if vendor_type is None:
        return {
            "manufacturers": "Manufacturers can be chosen only after Default Vendor Type is saved: save it "
            "first, then re-open the connector."
        }
    if new.default_vendor_type != vendor_type:
        return {
            "manufacturers": "Default Vendor Type is being changed: save it first (without Manufacturers), "
            "then re-open the connector to choose Manufacturers among the companies of the new type."
        }
    key = opts.vendors_key(vendor_type)
    for name, company_id in new.manufacturers.items():
        if not name.strip():
            return {"manufacturers": "Each manufacturer needs the manufacturer name used in the billing hub."}
        option = _lookup(session, connector, key, company_id, factory)
        if option is None:
            return {
                "manufacturers": f"Company {company_id} chosen for '{name}' is not an active company of the "
                "saved Default Vendor Type in Autotask."
            }
    return {}


def save_settings(
    session: Session,
    connector: Connector,
    settings: AutotaskConnectorSettings,
    *,
    app_settings: Settings | None = None,
    client_factory: Callable[[], AutotaskClient] | None = None,
) -> list[str]:
    """Validate ``settings`` against the tenant and save them; refuse with every reason, saving nothing.

    Returns the Manufacturers mappings dropped by a change of Default Vendor Type: the form cannot send
    Manufacturers with such a change, so the saved mappings whose company is of the new type are kept
    and the others are named to the person (they used to vanish silently)."""
    app_settings = app_settings or get_settings()
    lazy = LazyClient(connector, app_settings)
    dropped: list[str] = []
    try:
        factory = client_factory or lazy
        errors = validate_settings(session, connector, settings, factory)
        saved = connector_settings(connector)
        if (
            not errors
            and saved.manufacturers
            and not settings.manufacturers
            and settings.default_vendor_type != saved.default_vendor_type
        ):
            kept: dict[str, int] = {}
            key = opts.vendors_key(settings.default_vendor_type) if settings.default_vendor_type else None
            for name, company_id in saved.manufacturers.items():
                if key is not None and _lookup(session, connector, key, company_id, factory) is not None:
                    kept[name] = company_id
                else:
                    dropped.append(name)
            settings = settings.model_copy(update={"manufacturers": kept})
    finally:
        lazy.close()
    if errors:
        raise SettingsValidationError(errors)
    connector.settings_json = settings.model_dump(mode="json")
    connector.status = _status_for(settings)
    session.commit()
    log.info("autotask connector %s settings saved (status %s)", connector.id, connector.status)
    return dropped


def suggested_settings(
    saved: AutotaskConnectorSettings, option_lists: dict[str, list[opts.Option]]
) -> AutotaskConnectorSettings:
    """``saved`` with the recommended values filled in where nothing is chosen yet (for preselection)."""
    updates: dict[str, object] = {}
    for name, labels in RECOMMENDED_LABELS.items():
        if getattr(saved, name) is None:
            choice = opts.find_by_label(option_lists.get(SETTING_OPTION_KEYS[name], []), *labels)
            if choice is not None:
                updates[name] = choice.value
    for setting, key in (
        ("billing_frequencies", "period_types"),
        ("contract_period_types", "contract_period_types"),
    ):
        if getattr(saved, setting):
            continue
        periods = option_lists.get(key, [])
        mapping: dict[BillingFrequency, int] = {}
        for frequency, labels in RECOMMENDED_PERIODS.items():
            choice = opts.find_by_label(periods, *labels)
            if choice is not None:
                mapping[frequency] = choice.value
        if mapping:
            updates[setting] = mapping
    return saved.model_copy(update=updates)


def load_option_lists(
    session: Session, connector: Connector, app_settings: Settings
) -> dict[str, list[opts.Option]]:
    """Every dropdown list of the settings form (cached), plus the vendor companies of the saved type.

    The vendor list depends on the *saved* Default Vendor Type only: that is the Manufacturers rule.
    """
    factory = LazyClient(connector, app_settings)
    try:
        lists = {key: opts.get_options(session, connector, key, factory) for key in opts.all_static_keys()}
        vendor_type = connector_settings(connector).default_vendor_type
        if vendor_type is not None:
            lists["vendors"] = opts.get_options(session, connector, opts.vendors_key(vendor_type), factory)
    finally:
        factory.close()
    return lists


def refresh_options(session: Session, connector: Connector, app_settings: Settings) -> None:
    """The Refresh action: forget the cached lists, in the database and in the client's metadata cache,
    so the next read goes to Autotask (a picklist value added in Autotask a minute ago shows up)."""
    opts.clear_options(session, connector)
    lazy = LazyClient(connector, app_settings)
    try:
        lazy().refresh_metadata()
    finally:
        lazy.close()
