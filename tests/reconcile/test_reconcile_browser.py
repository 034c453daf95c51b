"""The Reconcile tab in a real browser: an admin reconciles on a date, sees each difference, opens a
contract service's trace, approves two fixes and sees them applied (written once in Autotask)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.reconcile.scenario import DAY, changed_by_hand
from tests.reconcile.support import ours
from tests.support.browser import login
from tests.sync.support import Hub, SyncEnv


def _difference(page: Any, category: str, label: str) -> Any:
    rows = page.locator(f"[data-testid=difference][data-category={category}]")
    return rows.filter(has=page.locator("[data-testid=difference-label]", has_text=label)).first


def test_admin_reconciles_traces_approves_and_applies(
    browser_page: Any, shot: Any, env: SyncEnv, hub: Hub, reconcile_app: str, make_org_user: Any
) -> None:
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    sc = changed_by_hand(env, hub)
    admin = make_org_user(slug="acme", role="admin")
    adjustments = len(env.adjustments())

    login(page, reconcile_app, admin.email, admin.password)
    page.click("nav.tabs >> text=PSA Integration")
    page.click("[data-testid=psa-tab-reconcile]")
    page.wait_for_url(re.compile(r"/psa-integration/reconcile$"))
    assert "Autotask API call" in page.inner_text("[data-testid=reconcile-estimate]")
    page.fill("[data-testid=reconcile-date]", DAY.isoformat())
    page.click("[data-testid=reconcile-now]")
    page.wait_for_selector("[data-testid=differences]")
    assert page.locator("[data-testid=difference]").count() == 13
    shot("differences")

    seats = page.locator("[data-testid=difference][data-category=seats]").first
    assert seats.locator("[data-testid=autotask-value]").inner_text().startswith("15")
    assert seats.locator("[data-testid=hub-value]").inner_text().startswith("13")
    assert "changed in Autotask" in seats.inner_text()

    seats.locator("[data-testid=trace-link]").click()
    page.wait_for_selector("[data-testid=trace-lines]")
    assert "They part on 2026-03-10" in page.inner_text("[data-testid=trace-parted]")
    parted = page.locator("[data-testid=trace-line][data-day='2026-03-10']")
    assert parted.get_attribute("data-agree") == "no"
    assert "Autotask: 13 → 15 unit(s) (no adjustment of PSA Bridge's)" in parted.inner_text()
    shot("trace")
    page.click("[data-testid=trace-back]")
    page.wait_for_selector("[data-testid=differences]")

    renamed = _difference(page, "owned_field", "Humongous Insurance")
    seats = page.locator("[data-testid=difference][data-category=seats]").first
    seats.locator("[data-testid=fix][data-kind=adjust] [data-testid=choose-fix]").check()
    renamed.locator("[data-testid=fix][data-kind=write_back] [data-testid=choose-fix]").check()
    page.click("[data-testid=approve-selected]")
    expect(page.locator("[data-testid=notice]")).to_contain_text("Approved 2 fix(es)")
    assert "overwrite a change" in page.inner_text("[data-testid=apply-overwrites]")
    shot("approved")

    page.click("[data-testid=apply-approved]")
    expect(page.locator("[data-testid=notice]")).to_contain_text("Applied 2 fix(es)")
    seats = page.locator("[data-testid=difference][data-category=seats]").first
    renamed = _difference(page, "owned_field", "Humongous Insurance")
    for row, kind in ((seats, "adjust"), (renamed, "write_back")):
        fix = row.locator(f"[data-testid=fix][data-kind={kind}]")
        assert fix.get_attribute("data-status") == "applied"
        assert "applied" in fix.locator("[data-testid=fix-written]").inner_text()
    shot("applied")
    assert len(env.adjustments()) == adjustments + 1
    assert (
        ours(env, "Companies", "companyNumber", "A", sc.ids["account2"])["companyName"]
        == "Humongous Insurance"
    )
