"""The Autotask connector's use cases: save tested credentials, build a client, validate and save settings.

The web pages, the REST API and the sync engine all go through here, so a rule (credentials are tested
before they are stored; a setting must exist and be active in the tenant; Manufacturers need a saved
Default Vendor Type) holds no matter where a change comes from. A failed attempt never changes what was
saved: every check runs before the row is touched.

The use cases live in modules of one job each and are re-exported here, because the web pages, the
REST API, the sync engine, the demo and the tests call them as ``service.<name>``:
:mod:`~psabridge.connectors.queries` (reading connectors), :mod:`~psabridge.connectors.clients`
(Autotask clients of a connector), :mod:`~psabridge.connectors.credentials` (testing and saving
credentials), :mod:`~psabridge.connectors.settings_validation` (validating and saving settings) and
:mod:`~psabridge.connectors.settings_choices` (the settings form's option lists and preselection).
"""

from __future__ import annotations

from psabridge.connectors.clients import LazyClient, build_client
from psabridge.connectors.credentials import (
    CONNECTOR_NAME,
    CREDENTIAL_LABELS,
    CREDENTIAL_TEST_TIMEOUT,
    SETUP_RETRY,
    check_header_safe,
    create_or_update_connector,
    discover_zone,
    test_credentials,
)
from psabridge.connectors.queries import (
    connector_settings,
    get_autotask_connector,
    get_connector,
    list_connectors,
)
from psabridge.connectors.settings_choices import (
    RECOMMENDED_LABELS,
    RECOMMENDED_PERIODS,
    load_option_lists,
    refresh_options,
    suggested_settings,
)
from psabridge.connectors.settings_validation import (
    RECURRING_SERVICE_LABEL,
    SETTING_LABELS,
    SETTING_OPTION_KEYS,
    save_settings,
    validate_settings,
)

__all__ = [
    "CONNECTOR_NAME",
    "CREDENTIAL_LABELS",
    "CREDENTIAL_TEST_TIMEOUT",
    "RECOMMENDED_LABELS",
    "RECOMMENDED_PERIODS",
    "RECURRING_SERVICE_LABEL",
    "SETTING_LABELS",
    "SETTING_OPTION_KEYS",
    "SETUP_RETRY",
    "LazyClient",
    "build_client",
    "check_header_safe",
    "connector_settings",
    "create_or_update_connector",
    "discover_zone",
    "get_autotask_connector",
    "get_connector",
    "list_connectors",
    "load_option_lists",
    "refresh_options",
    "save_settings",
    "suggested_settings",
    "test_credentials",
    "validate_settings",
]
