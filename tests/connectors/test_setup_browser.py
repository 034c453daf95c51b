"""THE setup flow in a real browser (Debian Chromium, headless) against the Autotask emulator: steps 1-6
of the issue, including a failed save with a wrong secret and the Manufacturers rule. Screenshots of each
step are kept in test-artifacts/test_autotask_connector_setup_flow/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from psabridge.connectors import service
from tests.support.browser import login

pytestmark = pytest.mark.browser


def _selected_label(page: Any, select_id: str) -> str:
    label: str = page.eval_on_selector(
        f"#{select_id}", "el => el.selectedIndex >= 0 ? el.options[el.selectedIndex].text : ''"
    )
    return label.strip()


def test_autotask_connector_setup_flow(
    connector_app: str,
    make_org_user: Callable[..., Any],
    emulator: Any,
    browser_page: Any,
    shot: Callable[[str], Path],
    db: Session,
) -> None:
    page = browser_page
    admin = make_org_user("acme", "admin")
    creds = emulator.credentials
    login(page, connector_app, admin.email, admin.password)

    # 1. Integrations tab -> Add New -> catalogue with "Psa Connectors" offering "datto | Autotask".
    page.get_by_role("link", name="Integrations", exact=True).first.click()
    page.wait_for_url("**/integrations")
    shot("integrations-empty")
    page.get_by_role("link", name="Add New").click()
    psa = page.locator("[data-testid=catalogue-section]", has_text="Psa Connectors")
    assert psa.get_by_text("datto | Autotask").is_visible()
    assert psa.get_by_text("not yet available").first.is_visible()
    shot("catalogue")
    psa.get_by_role("link", name="Create").click()

    # 2. The create form: Integration Code prefilled; the Environment is discovered from the Username.
    page.wait_for_selector("[data-testid=credentials-form]")
    assert page.input_value("#integration_code") == creds.integration_code
    page.fill("#username", creds.username)
    page.wait_for_selector("[data-testid=zone-url]")
    assert page.text_content("[data-testid=zone-url]").strip() == emulator.api_url  # type: ignore[union-attr]
    assert page.text_content("[data-testid=zone-name]").strip()  # type: ignore[union-attr]
    page.check("[data-testid=confirm-environment]")
    shot("create-form-environment")

    # 3. Save with a wrong secret: a clear error, nothing saved.
    page.fill("#secret", "not-the-secret")
    page.click("[data-testid=save-credentials]")
    error = page.wait_for_selector("[data-testid=credentials-error]")
    assert "refused the Password" in error.text_content()
    assert "not-the-secret" not in page.content()
    assert service.get_autotask_connector(db, admin.organization_id) is None
    shot("save-wrong-secret")

    page.wait_for_selector("[data-testid=confirm-environment]")  # re-discovered for the kept username
    page.check("[data-testid=confirm-environment]")
    page.fill("#secret", creds.secret)
    page.click("[data-testid=save-credentials]")
    page.wait_for_url("**/integrations?notice=*")
    assert "Needs settings" in page.text_content("[data-testid=connector-status]")  # type: ignore[operator]
    shot("saved-listed")

    # 4. Re-open: blank secret with "leave blank to keep", every setting, recommended values preselected.
    page.click("[data-testid=open-connector]")
    page.wait_for_selector("[data-testid=settings-form]")
    assert page.input_value("#secret") == ""
    assert page.get_attribute("#secret", "placeholder") == "leave blank to keep"
    assert creds.secret not in page.content()
    form = page.locator("[data-testid=settings-form]")
    for label in (
        "Allow Duplicated Services",
        "Time Reporting Requires Start and Stop Times",
        "Setup Fee",
        "Default Charge Type",
        "Default Company Type",
        "Default Billing Preference",
        "Default Contract Type",
        "Default Vendor Type",
        "Default Owner Source",
        "Default Refund Product",
        "Billing Codes for Products",
        "Billing Codes for Services",
        "Billing Frequencies",
        "Manufacturers",
    ):
        assert form.get_by_text(label, exact=True).first.is_visible(), label
    assert _selected_label(page, "default_company_type") == "Customer"
    assert _selected_label(page, "default_contract_type") == "Recurring Service"
    assert _selected_label(page, "default_vendor_type") == "Vendor"
    assert _selected_label(page, "billing_frequency_monthly") == "Monthly"
    assert _selected_label(page, "billing_frequency_annual") == "Yearly"
    # 5. Manufacturers is disabled while Default Vendor Type is not saved.
    assert page.is_disabled("#manufacturer_vendor_0")
    assert page.is_visible("[data-testid=manufacturers-disabled]")
    shot("reopened-settings")

    # A contract type that cannot hold contract services is refused with the reason.
    page.select_option("#default_contract_type", label="Time and Materials")
    page.select_option("#default_charge_type", label="Operational")
    page.select_option("#default_billing_preference", label="Immediately")
    page.select_option("#default_owner_resource_id", label="Jane Cooper (jane.cooper@demo-msp.example)")
    page.select_option("#product_billing_code_id", label="Software Licenses (GL-804)")
    page.select_option("#service_billing_code_id", label="Managed Services (GL-810)")
    page.fill("#refund_product_search", "refund")
    page.wait_for_function(
        "() => document.querySelectorAll('#default_refund_product_id option').length === 2"
    )
    page.select_option("#default_refund_product_id", label="Refund / Credit (REFUND)")
    page.select_option("#setup_fee_enabled", label="Yes")
    page.select_option("#setup_fee_billing_code_id", label="Setup Fees")
    page.click("[data-testid=save-settings]")
    refusal = page.wait_for_selector("[data-testid=error-default_contract_type]")
    assert "cannot hold contract services" in refusal.text_content()
    assert _selected_label(page, "default_refund_product_id") == "Refund / Credit (REFUND)"  # input kept
    shot("contract-type-refused")

    # 6. Every required setting saved: the connector is set up.
    page.select_option("#default_contract_type", label="Recurring Service")
    page.click("[data-testid=save-settings]")
    page.wait_for_selector("[data-testid=setup-complete]")
    assert "Autotask connector is now set up" in page.text_content("[data-testid=setup-complete]")  # type: ignore[operator]
    shot("set-up")

    # 5 (continued). Re-opened after Default Vendor Type was saved: Manufacturers lists the vendor companies.
    page.goto(f"{connector_app}/integrations")
    page.click("[data-testid=open-connector]")
    page.wait_for_selector("[data-testid=settings-form]")
    assert page.is_enabled("#manufacturer_vendor_0")
    vendors = page.eval_on_selector_all("#manufacturer_vendor_0 option", "els => els.map(e => e.text)")
    assert {"Microsoft", "Datto", "Sophos"} <= set(vendors)
    assert "Contoso Ltd" not in vendors  # a customer, not a vendor
    # Changing the vendor type disables Manufacturers again until saved and re-opened.
    page.select_option("#default_vendor_type", label="Partner")
    assert page.is_disabled("#manufacturer_vendor_0")
    page.select_option("#default_vendor_type", label="Vendor")
    assert page.is_enabled("#manufacturer_vendor_0")
    page.fill("#manufacturer_name_0", "Microsoft")
    page.select_option("#manufacturer_vendor_0", label="Microsoft")
    page.click("[data-testid=save-settings]")
    page.wait_for_selector("[data-testid=setup-complete]")
    assert page.input_value("#manufacturer_name_0") == "Microsoft"
    assert _selected_label(page, "manufacturer_vendor_0") == "Microsoft"
    shot("manufacturers-saved")

    # Check permissions: every probe passes against the emulator's API user.
    page.click("[data-testid=check-permissions]")
    page.wait_for_selector("[data-testid=permissions-ok]")
    shot("permissions-checked")

    page.get_by_role("link", name="Integrations", exact=True).first.click()
    assert "Set up" in page.text_content("[data-testid=connector-status]")  # type: ignore[operator]
    shot("integrations-set-up")

    db.expire_all()
    connector = service.get_autotask_connector(db, admin.organization_id)
    assert connector is not None and connector.status == "set_up"
    saved = service.connector_settings(connector)
    assert saved.manufacturers == {"Microsoft": 174}
    assert saved.setup_fee_enabled and saved.setup_fee_billing_code_id is not None
