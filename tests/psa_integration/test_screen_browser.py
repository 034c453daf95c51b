"""The PSA Integration screen in a real browser: an admin walks the tabs in order, confirms a suggested
company link, previews the plan, pushes, and sees the rows turn Synced and the run in the history."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from psabridge.sync.keys import matching_key
from tests.psa_integration.conftest import SAME_NAME_COMPANY, autotask_writes, companies_named
from tests.support.browser import login

TAB_ORDER = ["products", "customers", "agreements", "services", "changes"]


def _row(page: Any, label: str) -> Any:
    return page.locator("[data-testid=psa-row]").filter(has=page.locator(".psa-label", has_text=label))


def test_admin_links_previews_and_pushes(
    browser_page: Any, shot: Any, psa_app: str, make_org_user: Any, set_up_org: Any, emulator: Any
) -> None:
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm prompts: the user says yes
    admin = make_org_user(slug="acme", role="admin")
    org = set_up_org(admin.organization_id)
    existing = companies_named(emulator, SAME_NAME_COMPANY)
    assert len(existing) == 1
    contoso_at_id = existing[0]["id"]

    login(page, psa_app, admin.email, admin.password)
    page.click("nav.tabs >> text=PSA Integration")
    page.wait_for_url(re.compile(r"/psa-integration/products$"))
    titles = page.locator(".psa-tabs a").all_inner_texts()
    assert [t.split()[0] for t in titles[:5]] == [
        "Products",
        "Customers",
        "Agreements",
        "Services",
        "Changes",
    ]

    # Walk the tabs left to right: every hub record is listed, not planned yet.
    for key in TAB_ORDER:
        page.click(f"[data-testid=psa-tab-{key}]")
        page.wait_for_url(re.compile(rf"/psa-integration/{key}$"))
        assert page.get_attribute(f"[data-testid=psa-tab-{key}]", "aria-current") == "page"
        assert page.locator("[data-testid=psa-row]").count() > 0
        shot(f"tab-{key}")
    assert page.locator("[data-testid=psa-row][data-status=pending]").count() > 0

    # The first preview finds the same-name company and asks the user instead of linking it.
    page.click("[data-testid=preview-plan]")
    page.wait_for_selector("[data-testid=plan-summary]")
    assert "Needs link" in page.inner_text("[data-testid=plan-problems]")
    assert SAME_NAME_COMPANY in page.inner_text("[data-testid=plan-problems]")
    shot("first-preview")

    page.click("[data-testid=psa-tab-customers]")
    contoso = _row(page, SAME_NAME_COMPANY).first
    assert contoso.get_attribute("data-status") == "needs_link"
    assert "same name" in contoso.inner_text()
    # Nothing was linked by the preview alone.
    assert contoso.locator("[data-testid=psa-linked]").count() == 0

    # Type to search Autotask from the row's "PSA System" field.
    contoso.locator("[data-testid=psa-search]").fill("Contoso")
    results = contoso.locator("[data-testid=search-results]")
    results.wait_for()
    assert SAME_NAME_COMPANY in results.inner_text()
    shot("search-results")

    # Confirm the suggested link.
    contoso.locator("[data-testid=confirm-link]").first.click()
    page.wait_for_selector("[data-testid=notice]")
    contoso = _row(page, SAME_NAME_COMPANY).first
    assert f"Company #{contoso_at_id}" in contoso.locator("[data-testid=psa-linked]").inner_text()
    shot("linked")

    # Any other same-name suggestion: the user selects those rows and chooses Add New in bulk.
    others = page.locator("[data-testid=psa-row][data-status=needs_link]")
    other_names = [n.strip() for n in others.locator(".psa-label").all_inner_texts()]
    assert SAME_NAME_COMPANY not in other_names
    for i in range(others.count()):
        others.nth(i).locator("input.psa-select").check()
    if other_names:
        page.select_option("[data-testid=bulk-action]", "add_new")
        page.click("[data-testid=bulk-apply]")
        page.wait_for_selector("[data-testid=notice]")
        for name in other_names:
            assert "Add New" in _row(page, name).first.inner_text()
        shot("bulk-add-new")

    # Preview: exactly the writes, with their API-call cost; the linked company is updated, not created.
    page.click("[data-testid=preview-plan]")
    page.wait_for_selector("[data-testid=plan-operations]")
    ops = page.locator("[data-testid=plan-op]").all_inner_texts()
    assert ops, "the plan should hold operations"
    assert any(f"Companies #{contoso_at_id}" in op for op in ops)
    assert not any(f"Create Companies '{SAME_NAME_COMPANY}'" in op for op in ops)
    summary = page.inner_text("[data-testid=plan-summary]")
    planned = int(re.search(r"(\d+) operation", summary).group(1))  # type: ignore[union-attr]
    assert planned == len(ops)
    shot("preview")
    writes_before = autotask_writes(emulator)

    page.click("[data-testid=push]")
    page.wait_for_url(re.compile(r"/psa-integration/runs/\d+$"), timeout=120_000)
    # The push runs in the background; the run page refreshes itself until it is done.
    expect(page.locator("[data-testid=run-status]")).to_have_text("succeeded", timeout=180_000)
    assert page.locator("[data-testid=run-result][data-status=synced]").count() > 0
    contoso_result = page.locator("[data-testid=run-result]").filter(has_text=SAME_NAME_COMPANY).first
    assert f"Company #{contoso_at_id}" in contoso_result.inner_text()
    shot("run")
    run_url = page.url
    assert autotask_writes(emulator) > writes_before

    # Rows turned Synced, on every tab; the company was linked, not duplicated.
    for key in TAB_ORDER:
        page.click(f"[data-testid=psa-tab-{key}]")
        statuses = page.locator("[data-testid=psa-row]").evaluate_all(
            "rows => rows.map(r => r.dataset.status)"
        )
        assert statuses and set(statuses) == {"synced"}, (key, statuses)
    page.click("[data-testid=psa-tab-customers]")
    assert f"Company #{contoso_at_id}" in _row(page, SAME_NAME_COMPANY).first.inner_text()
    shot("synced")
    for name in other_names:  # Add New made a second company next to the same-name one
        assert len(companies_named(emulator, name)) == 2
    same_name = companies_named(emulator, SAME_NAME_COMPANY)
    assert len(same_name) == 1
    assert same_name[0]["companyNumber"] == matching_key(
        org.organization_id, "account", org.contoso_account_id
    )

    # The run is in the history.
    page.click("[data-testid=psa-tab-runs]")
    run_id = run_url.rsplit("/", 1)[1]
    row = page.locator(f"[data-testid=run-row][data-run-id='{run_id}']")
    assert "succeeded" in row.inner_text() and "Push" in row.inner_text()
    shot("history")

    # A second preview plans nothing.
    page.click("[data-testid=psa-tab-products]")
    page.click("[data-testid=preview-plan]")
    page.wait_for_selector("[data-testid=plan-empty]")
