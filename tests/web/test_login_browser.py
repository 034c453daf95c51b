"""Signing in and out of the Admin Hub in a real browser, as a billing administrator does."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import OrgUser
from tests.support.browser import login
from tests.support.web import signed_in_client

pytestmark = pytest.mark.browser


def test_login_wrong_password_then_login_and_logout(
    live_app: str, browser_page: Any, shot: Callable[[str], Path], make_org_user: Callable[..., OrgUser]
) -> None:
    admin = make_org_user("acme", "admin")
    page = browser_page

    page.goto(f"{live_app}/billing/accounts")
    expect(page).to_have_url(f"{live_app}/login?next=/billing/accounts")
    shot("login-form")

    page.fill("#email", admin.email)
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong e-mail or password.")
    expect(page.locator("#email")).to_have_value(admin.email)
    expect(page.locator("#password")).to_have_value("")
    shot("wrong-password")

    page.fill("#password", admin.password)
    page.click("button[type=submit]")
    # Back where the user wanted to go, inside the organization's layout with all tabs.
    expect(page).to_have_url(f"{live_app}/billing/accounts")
    expect(page.get_by_test_id("org-name")).to_have_text("Acme MSP")
    for label in ("Integrations", "PSA Integration", "Billing Hub", "Users"):
        expect(page.locator("nav.tabs").get_by_role("link", name=label)).to_be_visible()
    expect(page.locator("nav.tabs a.active")).to_have_text("Billing Hub")
    shot("signed-in")

    page.get_by_test_id("user-menu").click()
    shot("user-menu")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_app}/login?logged_out=1")
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    shot("signed-out")

    # The old session is gone on the server: the pages ask for a login again.
    page.goto(f"{live_app}/users")
    expect(page).to_have_url(f"{live_app}/login?next=/users")


def test_deactivated_user_cannot_sign_in_and_inactive_session_ends(
    live_app: str, browser_page: Any, shot: Callable[[str], Path], make_org_user: Callable[..., OrgUser]
) -> None:
    admin = make_org_user("acme", "admin")
    page = browser_page
    login(page, live_app, admin.email, admin.password)

    # The admin adds a colleague through the Users tab.
    page.locator("nav.tabs").get_by_role("link", name="Users").click()
    page.fill("#new-email", "Colleague@Acme.test")
    page.fill("#new-password", "short")
    page.evaluate("document.querySelector('#new-password').removeAttribute('minlength')")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("at least 12 characters")
    shot("add-user-refused")
    page.fill("#new-password", "a-strong-passphrase-9")
    page.select_option("#new-role", "viewer")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_test_id("notice")).to_have_text("Added colleague@acme.test as viewer.")
    row = page.locator("tr[data-email='colleague@acme.test']")
    expect(row).to_contain_text("viewer")
    shot("user-added")

    # Promote, then deactivate.
    row.locator("select[name=role]").select_option("admin")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_test_id("notice")).to_have_text("colleague@acme.test is now admin.")
    row = page.locator("tr[data-email='colleague@acme.test']")
    row.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_test_id("confirm-deactivate")).to_contain_text("signed out of every browser")
    shot("deactivate-asks-first")
    page.get_by_role("button", name="Yes, deactivate").click()
    expect(page.get_by_test_id("notice")).to_contain_text("deactivated")
    expect(page.locator("tr[data-email='colleague@acme.test']")).to_contain_text("deactivated")
    shot("user-deactivated")

    # The last active admin cannot be deactivated (nobody could administer the organization).
    me = page.locator(f"tr[data-email='{admin.email}']")
    me.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("only admin")

    page.get_by_test_id("user-menu").click()
    page.get_by_role("button", name="Log out").click()
    page.fill("#email", "colleague@acme.test")
    page.fill("#password", "a-strong-passphrase-9")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong e-mail or password.")
    shot("deactivated-cannot-sign-in")


def test_change_own_password_signs_out_other_browsers(
    live_app: str, browser_page: Any, shot: Callable[[str], Path], make_org_user: Callable[..., OrgUser]
) -> None:
    viewer = make_org_user("acme", "viewer")
    other_browser, _ = signed_in_client(live_app, viewer.email, viewer.password)
    page = browser_page
    login(page, live_app, viewer.email, viewer.password)
    page.get_by_test_id("user-menu").click()
    page.get_by_role("link", name="Change password").click()
    page.fill("#current_password", "not-my-password")
    page.fill("#new_password", "a-brand-new-password")
    page.fill("#confirm_password", "a-brand-new-password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_test_id("form-error")).to_have_text("The current password is wrong.")
    shot("wrong-current-password")
    page.fill("#current_password", viewer.password)
    page.fill("#new_password", "a-brand-new-password")
    page.fill("#confirm_password", "a-brand-new-password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Your password is changed")
    shot("password-changed")

    # This browser stays signed in; the other one is signed out.
    page.goto(f"{live_app}/billing/accounts")
    expect(page.get_by_test_id("org-name")).to_have_text("Acme MSP")
    with closing(other_browser):
        assert other_browser.get("/").status_code == 303
    page.get_by_test_id("user-menu").click()
    page.get_by_role("button", name="Log out").click()
    login(page, live_app, viewer.email, "a-brand-new-password")
    expect(page.get_by_test_id("user-menu")).to_contain_text(viewer.email)
