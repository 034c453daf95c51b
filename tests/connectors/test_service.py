"""The connector service against the Autotask emulator over HTTP: credentials are tested live, failures
say what to fix and leave the saved connector as it was, settings are validated against the tenant."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from psabridge.config import Settings
from psabridge.connectors import options as opts
from psabridge.connectors import permissions, service
from psabridge.connectors.errors import ConnectorError, SettingsValidationError
from psabridge.connectors.models import Connector, ConnectorOptionCache
from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency
from psabridge.security.crypto import SecretBox
from tests.connectors.conftest import Org
from tests.support.servers import free_port

MICROSOFT, CONTOSO = 174, 180  # a vendor company and a customer company of the seeded tenant
INACTIVE_SERVICE_CODE = 29682813


def _create(db: Session, org: Org, emulator: Any, at_settings: Settings, **overrides: Any) -> Connector:
    creds = emulator.credentials
    kwargs: dict[str, Any] = {
        "username": creds.username,
        "secret": creds.secret,
        "integration_code": creds.integration_code,
        "app_settings": at_settings,
        "timeout": 5.0,
    }
    kwargs.update(overrides)
    return service.create_or_update_connector(db, org.id, **kwargs)


def _snapshot(db: Session, org: Org) -> tuple[Any, ...]:
    db.expire_all()
    c = service.get_autotask_connector(db, org.id)
    assert c is not None
    return (c.username, c.secret_encrypted, c.integration_code, c.api_url, c.updated_at, c.settings_json)


@pytest.fixture()
def org(make_org: Callable[[str], Org]) -> Org:
    return make_org("acme")


def test_good_credentials_create_the_connector_with_the_discovered_zone(
    db: Session, org: Org, emulator: Any, at_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectorError):
        _create(db, org, emulator, at_settings, secret="wrong-secret-value")
    connector = _create(db, org, emulator, at_settings)
    service.load_option_lists(db, connector, at_settings)
    assert emulator.credentials.secret not in caplog.text
    assert "wrong-secret-value" not in caplog.text
    assert connector.zone_name
    assert connector.api_url.rstrip("/") == emulator.api_url.rstrip("/")
    assert connector.status == "needs_settings"
    # The secret is stored encrypted: not in the row, readable only with the installation key.
    raw = db.execute(text("SELECT secret_encrypted FROM connectors")).scalar_one()
    assert emulator.credentials.secret not in raw
    assert SecretBox.from_settings(at_settings).decrypt(raw) == emulator.credentials.secret
    with pytest.raises(Exception, match="cannot be decrypted"):
        SecretBox(SecretBox.generate_key()).decrypt(raw)
    assert emulator.credentials.secret not in repr(connector)


def test_unknown_user_is_named_and_nothing_is_saved(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    with pytest.raises(ConnectorError) as info:
        _create(db, org, emulator, at_settings, username="nobody@unknown.example")
    assert info.value.field == "username"
    assert "does not know the user 'nobody@unknown.example'" in info.value.message
    assert db.scalar(select(Connector)) is None


@pytest.mark.parametrize("field", ["secret", "integration_code"])
def test_bad_secret_or_integration_code_is_refused(
    db: Session, org: Org, emulator: Any, at_settings: Settings, field: str
) -> None:
    with pytest.raises(ConnectorError) as info:
        _create(db, org, emulator, at_settings, **{field: "wrong-value"})
    assert info.value.field == "secret"
    assert "refused the Password (API secret) or the Integration Code" in info.value.message
    assert "wrong-value" not in info.value.message
    assert db.scalar(select(Connector)) is None


def test_unreachable_autotask_is_reported(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    closed = at_settings.model_copy(
        update={"autotask_zone_url": f"http://127.0.0.1:{free_port()}/atservicesrest/v1.0/zoneInformation"}
    )
    with pytest.raises(ConnectorError) as info:
        _create(db, org, emulator, closed)
    assert info.value.upstream
    assert "could not be reached" in info.value.message
    assert db.scalar(select(Connector)) is None


def test_empty_secret_on_update_keeps_the_stored_one(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    first = _create(db, org, emulator, at_settings)
    stored = first.secret_encrypted
    again = _create(db, org, emulator, at_settings, secret="")
    assert again.id == first.id
    assert SecretBox.from_settings(at_settings).decrypt(again.secret_encrypted) == emulator.credentials.secret
    assert again.secret_encrypted != "" and stored
    with pytest.raises(ConnectorError, match="Password"):
        service.create_or_update_connector(
            db,
            org.id + 1000,
            username=emulator.credentials.username,
            secret="",
            integration_code="X",
            app_settings=at_settings,
        )


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"action": "500", "entity": "Companies", "count": None}, "Autotask answered with an error"),
        ({"action": "500", "entity": "ThresholdInformation|Contracts", "count": None}, "Contracts"),
        ({"action": "latency", "entity": "Companies", "ms": 3000, "count": None}, "could not be reached"),
        ({"action": "429", "entity": "Companies", "count": None}, "API limit for this tenant is reached"),
    ],
    ids=["500-on-companies", "500-on-contracts", "timeout", "thread-limit"],
)
def test_autotask_failures_give_a_clear_message_and_leave_the_connector_unchanged(
    db: Session,
    org: Org,
    emulator: Any,
    at_settings: Settings,
    fault: dict[str, Any],
    expected: str,
) -> None:
    _create(db, org, emulator, at_settings)
    before = _snapshot(db, org)
    emulator.control.add_fault(**fault)
    with pytest.raises(ConnectorError) as info:
        _create(db, org, emulator, at_settings, timeout=1.0)
    db.rollback()
    assert expected in info.value.message
    assert _snapshot(db, org) == before


def test_missing_permission_is_named_in_plain_words_and_nothing_changes(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    _create(db, org, emulator, at_settings)
    before = _snapshot(db, org)
    emulator.control.deny("Products")
    with pytest.raises(ConnectorError) as info:
        _create(db, org, emulator, at_settings, secret="")
    assert "security level is missing: Inventory → Products" in info.value.message
    assert _snapshot(db, org) == before


def test_check_permissions_lists_each_missing_permission(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    connector = _create(db, org, emulator, at_settings)
    client = service.build_client(connector, at_settings)
    try:
        assert permissions.check_permissions(client).all_ok
        emulator.control.deny("BillingCodes")  # reads come back empty, as in Autotask
        emulator.control.deny("Contracts")  # writes are refused with a 500
        report = permissions.check_permissions(client)
    finally:
        client.close()
    assert not report.all_ok
    by_entity = {r.probe.entity: r for r in report.results}
    assert by_entity["BillingCodes"].status is permissions.ProbeStatus.EMPTY
    assert by_entity["Contracts"].status is permissions.ProbeStatus.MISSING
    assert by_entity["Companies"].ok and by_entity["Products"].ok
    assert report.missing == [
        "Contracts → Contracts (view, add, edit) with full contract visibility",
        "Admin → Products and Services → Billing codes (view)",
    ]
    # Probing created nothing in the tenant.
    assert not [c for c in emulator.control.records("Contracts") if not c.get("contractName")]


# --- options and settings ---------------------------------------------------------------------------


def _value(lists: dict[str, list[opts.Option]], key: str, label: str) -> int:
    found = opts.find_by_label(lists[key], label)
    assert found is not None, f"{label} not in {key}"
    return found.value


def _full_settings(lists: dict[str, list[opts.Option]]) -> AutotaskConnectorSettings:
    return AutotaskConnectorSettings(
        allow_duplicated_services=False,
        time_reporting_requires_start_and_stop_times=True,
        setup_fee_enabled=True,
        setup_fee_billing_code_id=_value(lists, "product_billing_codes", "Setup Fees"),
        default_charge_type=_value(lists, "charge_types", "Operational"),
        default_company_type=_value(lists, "company_types", "Customer"),
        default_billing_preference=_value(lists, "billing_preferences", "Immediately"),
        default_contract_type=_value(lists, "contract_types", "Recurring Service"),
        default_vendor_type=_value(lists, "company_types", "Vendor"),
        default_owner_resource_id=_value(lists, "resources", "Jane Cooper"),
        default_refund_product_id=_value(lists, "products", "Refund / Credit"),
        product_billing_code_id=_value(lists, "product_billing_codes", "Software Licenses"),
        service_billing_code_id=_value(lists, "service_billing_codes", "Managed Services"),
        billing_frequencies={
            BillingFrequency.MONTHLY: _value(lists, "period_types", "Monthly"),
            BillingFrequency.ANNUAL: _value(lists, "period_types", "Yearly"),
        },
        contract_period_types={
            BillingFrequency.MONTHLY: _value(lists, "contract_period_types", "Monthly"),
            BillingFrequency.ANNUAL: _value(lists, "contract_period_types", "Yearly"),
        },
    )


def test_options_come_from_the_tenant_and_are_cached_until_refreshed(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    connector = _create(db, org, emulator, at_settings)
    lists = service.load_option_lists(db, connector, at_settings)
    assert [o.label for o in lists["contract_types"]][:1] == ["Time and Materials"]
    assert "Recurring Service" in [o.label for o in lists["contract_types"]]
    assert {o.label for o in lists["service_billing_codes"]} >= {"Managed Services", "Cloud Subscriptions"}
    assert "Hardware" not in {o.label for o in lists["service_billing_codes"]}
    assert "Managed Services" not in {o.label for o in lists["product_billing_codes"]}
    resources = {o.label: o for o in lists["resources"]}
    assert "Jane Cooper" in resources and "Pat Former" not in resources  # inactive
    assert "PSA Bridge API" not in resources  # API-only users cannot own records
    assert opts.search(lists["products"], "refund")[0].label == "Refund / Credit"

    emulator.control.clear_calls()
    service.load_option_lists(db, connector, at_settings)
    assert emulator.control.calls()["total"] == 0  # everything from the cache

    service.refresh_options(db, connector, at_settings)
    assert db.scalar(select(ConnectorOptionCache)) is None
    service.load_option_lists(db, connector, at_settings)
    calls = emulator.control.calls()["calls"]
    assert calls["Companies"]["metadata"] == 1  # picklists re-read from Autotask, not a process cache
    assert calls["BillingCodes"]["query"] == 1


def test_autotask_failing_while_settings_are_validated_leaves_them_unchanged(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    connector = _create(db, org, emulator, at_settings)
    lists = service.load_option_lists(db, connector, at_settings)
    service.refresh_options(db, connector, at_settings)
    emulator.control.add_fault(action="500", entity="Resources", count=None)
    with pytest.raises(ConnectorError) as info:
        service.save_settings(db, connector, _full_settings(lists), app_settings=at_settings)
    assert info.value.upstream
    assert "Autotask answered with an error while trying to read the dropdown options" in info.value.message
    db.rollback()
    db.expire_all()
    unchanged = service.get_autotask_connector(db, org.id)
    assert unchanged is not None and unchanged.settings_json == {} and unchanged.status == "needs_settings"


def test_complete_settings_are_saved_and_the_connector_is_set_up(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    connector = _create(db, org, emulator, at_settings)
    lists = service.load_option_lists(db, connector, at_settings)
    settings = _full_settings(lists)
    service.save_settings(db, connector, settings, app_settings=at_settings)
    db.expire_all()
    saved = service.get_autotask_connector(db, org.id)
    assert saved is not None and saved.status == "set_up"
    assert service.connector_settings(saved) == settings


def test_a_contract_type_that_cannot_hold_services_is_refused_with_the_reason(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    connector = _create(db, org, emulator, at_settings)
    lists = service.load_option_lists(db, connector, at_settings)
    bad = _full_settings(lists).model_copy(
        update={"default_contract_type": _value(lists, "contract_types", "Time and Materials")}
    )
    with pytest.raises(SettingsValidationError) as info:
        service.save_settings(db, connector, bad, app_settings=at_settings)
    assert "'Time and Materials' cannot hold contract services" in info.value.errors["default_contract_type"]
    db.rollback()
    db.expire_all()
    assert service.get_autotask_connector(db, org.id).settings_json == {}  # type: ignore[union-attr]


def test_values_must_exist_and_be_active_in_the_tenant(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    connector = _create(db, org, emulator, at_settings)
    lists = service.load_option_lists(db, connector, at_settings)
    bad = _full_settings(lists).model_copy(
        update={
            "service_billing_code_id": INACTIVE_SERVICE_CODE,
            "default_owner_resource_id": 99999,
            "default_charge_type": 424242,
        }
    )
    with pytest.raises(SettingsValidationError) as info:
        service.save_settings(db, connector, bad, app_settings=at_settings)
    errors = info.value.errors
    assert "does not exist in Autotask" in errors["default_owner_resource_id"]
    assert "does not exist in Autotask" in errors["default_charge_type"]
    assert INACTIVE_SERVICE_CODE not in {o.value for o in lists["service_billing_codes"]}
    assert "service_billing_code_id" in errors


def test_manufacturers_need_a_saved_vendor_type_and_companies_of_that_type(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    connector = _create(db, org, emulator, at_settings)
    lists = service.load_option_lists(db, connector, at_settings)
    settings = _full_settings(lists)
    with_manufacturers = settings.model_copy(update={"manufacturers": {"Microsoft": MICROSOFT}})

    # Not before Default Vendor Type is saved, even if it is sent in the same request.
    with pytest.raises(SettingsValidationError) as info:
        service.save_settings(db, connector, with_manufacturers, app_settings=at_settings)
    assert "only after Default Vendor Type is saved" in info.value.errors["manufacturers"]
    db.rollback()

    service.save_settings(db, connector, settings, app_settings=at_settings)
    lists = service.load_option_lists(db, connector, at_settings)
    assert {o.label for o in lists["vendors"]} >= {"Microsoft", "Datto"}
    assert "Contoso Ltd" not in {o.label for o in lists["vendors"]}

    # A customer company is not a vendor of the saved type.
    with pytest.raises(SettingsValidationError) as info:
        service.save_settings(
            db,
            connector,
            settings.model_copy(update={"manufacturers": {"Contoso": CONTOSO}}),
            app_settings=at_settings,
        )
    assert "not an active company of the saved Default Vendor Type" in info.value.errors["manufacturers"]
    db.rollback()

    # Changing the vendor type and choosing manufacturers at once is refused too.
    other_type = _value(lists, "company_types", "Partner")
    with pytest.raises(SettingsValidationError) as info:
        service.save_settings(
            db,
            connector,
            with_manufacturers.model_copy(update={"default_vendor_type": other_type}),
            app_settings=at_settings,
        )
    assert "being changed" in info.value.errors["manufacturers"]
    db.rollback()

    service.save_settings(db, connector, with_manufacturers, app_settings=at_settings)
    db.expire_all()
    saved = service.get_autotask_connector(db, org.id)
    assert saved is not None
    assert service.connector_settings(saved).manufacturers == {"Microsoft": MICROSOFT}


def test_recommended_values_are_suggested_by_label(
    db: Session, org: Org, emulator: Any, at_settings: Settings
) -> None:
    connector = _create(db, org, emulator, at_settings)
    lists = service.load_option_lists(db, connector, at_settings)
    suggested = service.suggested_settings(service.connector_settings(connector), lists)
    assert suggested.default_company_type == _value(lists, "company_types", "Customer")
    assert suggested.default_contract_type == _value(lists, "contract_types", "Recurring Service")
    assert suggested.default_vendor_type == _value(lists, "company_types", "Vendor")
    assert suggested.billing_frequencies[BillingFrequency.SEMI_ANNUAL] == _value(
        lists, "period_types", "Semi-Annual"
    )
    assert BillingFrequency.TRIENNIAL not in suggested.billing_frequencies  # Autotask has no triennial
