"""A viewer in a real browser: sees the organization, cannot change it (friendly 403 page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.auth.models import User
from tests.conftest import OrgUser
from tests.support.browser import login

pytestmark = pytest.mark.browser

# Submits a well-formed form (with the session's valid CSRF token) that the viewer's page does not offer.
FORGE_ADD_USER = """() => {
  const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
  const form = document.createElement('form');
  form.method = 'post';
  form.action = '/users';
  for (const [k, v] of Object.entries({csrf_token: token, email: 'sneaky@acme.test',
                                        password: 'sneaky-password', role: 'admin'})) {
    const input = document.createElement('input');
    input.type = 'hidden'; input.name = k; input.value = v; form.appendChild(input);
  }
  document.body.appendChild(form);
  form.submit();
}"""


def test_viewer_sees_users_but_admin_actions_answer_403(
    live_app: str,
    browser_page: Any,
    shot: Callable[[str], Any],
    make_org_user: Callable[..., OrgUser],
    session_factory: sessionmaker[Session],
) -> None:
    make_org_user("acme", "admin")
    viewer = make_org_user("acme", "viewer")
    page = browser_page
    login(page, live_app, viewer.email, viewer.password)
    expect(page.get_by_test_id("user-menu")).to_contain_text("viewer")
    page.locator("nav.tabs").get_by_role("link", name="Users").click()
    expect(page.get_by_test_id("users-table")).to_contain_text(viewer.email)
    expect(page.get_by_role("button", name="Add user")).to_have_count(0)
    expect(page.get_by_role("button", name="Deactivate")).to_have_count(0)
    shot("viewer-users-tab")

    with page.expect_navigation():
        page.evaluate(FORGE_ADD_USER)
    expect(page.get_by_test_id("error-title")).to_have_text("Admins only")
    expect(page.get_by_test_id("error-message")).to_contain_text("Your role is viewer")
    shot("viewer-403")
    with session_factory() as db:
        assert db.scalar(select(func.count(User.id)).where(User.email == "sneaky@acme.test")) == 0


def test_foreign_site_form_cannot_act_for_a_signed_in_admin(
    live_app: str,
    browser_page: Any,
    shot: Callable[[str], Any],
    make_org_user: Callable[..., OrgUser],
    session_factory: sessionmaker[Session],
) -> None:
    """An admin is signed in; a page on another origin auto-submits a form to the Admin Hub: refused."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from tests.support.servers import serve_in_thread

    admin = make_org_user("acme", "admin")
    page = browser_page
    login(page, live_app, admin.email, admin.password)

    evil_html = f"""<!doctype html><form id=f method=post action="{live_app}/users">
      <input name=email value="evil@acme.test"><input name=password value="evil-password-123">
      <input name=role value=admin><input name=csrf_token value=guess></form>
      <button id=go onclick="document.getElementById('f').submit()">win a prize</button>"""

    async def evil(_request: Any) -> HTMLResponse:
        return HTMLResponse(evil_html)

    with serve_in_thread(Starlette(routes=[Route("/", evil)])) as evil_url:
        # "localhost" is a different site from "127.0.0.1" for the browser, as evil.example would be.
        page.goto(evil_url.replace("127.0.0.1", "localhost"))
        with page.expect_navigation():
            page.click("#go")
        expect(page.get_by_test_id("error-title")).to_have_text("Request refused")
        shot("cross-site-refused")
    with session_factory() as db:
        assert db.scalar(select(func.count(User.id)).where(User.email == "evil@acme.test")) == 0
