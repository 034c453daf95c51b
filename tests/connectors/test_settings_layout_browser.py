"""The connector's settings form on a laptop screen (1280x720): every label sits level with its control,
the controls share one width, and nothing sticks out of the page.

Before, labels were centred against control + help text (a label ended up beside the help, not the
control), each select had its own width, and the owner select ran past the form column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from tests.conftest import OrgUser
from tests.support.browser import login

pytestmark = pytest.mark.browser

#: For each label of the settings form: its top, the top and width of the first control of its row.
ROWS = """() => Array.from(document.querySelectorAll('[data-testid=settings-form] > label[for]')).map(l => {
  const box = l.nextElementSibling;
  const c = (box && box.querySelector('select, input:not([type=hidden])')) || document.getElementById(l.htmlFor);
  if (!c) return null;
  const lb = l.getBoundingClientRect(), cb = c.getBoundingClientRect();
  return {label: l.textContent.trim(), labelTop: lb.top, controlTop: cb.top, width: Math.round(cb.width),
          tag: c.tagName, right: cb.right};
}).filter(Boolean)"""


def test_settings_labels_line_up_with_their_controls_at_1280(
    connector_app: str,
    at_settings: Settings,
    emulator: Any,
    browser_page: Any,
    shot: Callable[[str], Any],
    make_org_user: Callable[..., OrgUser],
    session_factory: sessionmaker[Session],
) -> None:
    from psabridge.connectors import service as connectors
    from psabridge.demo_steps import ensure_connector

    admin = make_org_user(slug="acme", role="admin")
    with session_factory() as s:
        ensure_connector(s, admin.organization_id, emulator, at_settings)
        connector = connectors.get_autotask_connector(s, admin.organization_id)
        assert connector is not None
        connector_id = connector.id

    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 720})
    login(page, connector_app, admin.email, admin.password)
    page.goto(f"{connector_app}/integrations/autotask/{connector_id}")
    page.locator("[data-testid=settings-form]").scroll_into_view_if_needed()
    shot("settings-1280")

    rows = page.evaluate(ROWS)
    assert len(rows) >= 10
    for row in rows:
        # The label's first line is level with the control's top (its text baseline), not centred lower.
        assert abs(row["labelTop"] - row["controlTop"]) <= 12, row
    widths = {r["width"] for r in rows if r["tag"] == "SELECT"}
    assert len(widths) == 1, f"settings selects have different widths: {rows}"
    form_right = page.locator("[data-testid=settings-form]").evaluate("f => f.getBoundingClientRect().right")
    assert all(r["right"] <= form_right + 1 for r in rows)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    # Check permissions: every line of the report, the login included, carries its status badge.
    page.get_by_test_id("check-permissions").click()
    rows_ = page.locator("[data-testid=permission-report] tbody tr")
    assert rows_.count() >= 2
    for i in range(rows_.count()):
        assert rows_.nth(i).locator(".status").count() == 1, rows_.nth(i).inner_text()
    assert rows_.first.locator(".status").inner_text() == "ok"
    shot("permissions-1280")
