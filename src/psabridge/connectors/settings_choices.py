"""What the settings form offers: the tenant's option lists, the recommended preselection, Refresh.

Option lists are cached (psabridge.connectors.options) and read from Autotask only when missing or on
Refresh; the recommendations come from the one declaration of every setting
(psabridge.connectors.declarations), so the form preselects what the documentation recommends.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from psabridge.config import Settings
from psabridge.connectors import options as opts
from psabridge.connectors.clients import LazyClient
from psabridge.connectors.declarations import PERIOD_LABELS, SETTINGS
from psabridge.connectors.models import Connector
from psabridge.connectors.queries import connector_settings
from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency
from psabridge.connectors.settings_validation import SETTING_OPTION_KEYS

# Derived from the one declaration of every setting (psabridge.connectors.declarations).
#: Recommended choices (by label), preselected on the settings form while a setting is still empty.
RECOMMENDED_LABELS: dict[str, tuple[str, ...]] = {s.name: s.recommended for s in SETTINGS if s.recommended}
RECOMMENDED_PERIODS: dict[BillingFrequency, tuple[str, ...]] = {
    BillingFrequency(freq): labels for freq, labels in PERIOD_LABELS.items()
}


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
