"""Validating and saving the Autotask connector's settings against the tenant.

A setting must name a value that exists and is active in the tenant (re-read once from Autotask when
the cached list does not have it), the default contract type must be able to hold contract services,
and Manufacturers need a saved Default Vendor Type: every reason is collected, and nothing is saved
while there is one. The web form, the REST API and the demo save through :func:`save_settings`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from psabridge.autotask import AutotaskClient
from psabridge.config import Settings, get_settings
from psabridge.connectors import options as opts
from psabridge.connectors.clients import LazyClient
from psabridge.connectors.declarations import SETTINGS, Kind
from psabridge.connectors.errors import SettingsValidationError
from psabridge.connectors.models import Connector
from psabridge.connectors.queries import connector_settings, status_for
from psabridge.connectors.settings import AutotaskConnectorSettings

log = logging.getLogger(__name__)
RECURRING_SERVICE_LABEL = "Recurring Service"

#: Which option list each single-valued setting must come from.
SETTING_OPTION_KEYS: dict[str, str] = {
    s.name: s.option_key for s in SETTINGS if s.kind == Kind.CHOICE and s.option_key
}
#: Setting names as the Admin Hub shows them (used in messages).
SETTING_LABELS: dict[str, str] = {s.name: s.label for s in SETTINGS}


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
    connector.status = status_for(settings)
    session.commit()
    log.info("autotask connector %s settings saved (status %s)", connector.id, connector.status)
    return dropped
