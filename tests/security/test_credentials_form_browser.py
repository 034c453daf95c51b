"""The connector's credentials form after a failed save (issue 10, new-user items): the Environment
confirmation is kept, and the page logs no console error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import login

pytestmark = pytest.mark.browser


def test_failed_save_keeps_the_environment_confirmation_and_logs_no_console_error(
    connector_app: str,
    make_org_user: Callable[..., Any],
    emulator: Any,
    browser_page: Any,
    shot: Callable[[str], Path],
) -> None:
    page = browser_page
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    admin = make_org_user("acme", "admin")
    login(page, connector_app, admin.email, admin.password)
    page.goto(f"{connector_app}/integrations/autotask/new")
    page.fill("#username", emulator.credentials.username)
    page.wait_for_selector("[data-testid=confirm-environment]")
    assert problems == [], problems  # the form's own scripts on load and lookup
    page.check("[data-testid=confirm-environment]")
    page.fill("#secret", "not-the-secret")
    page.click("[data-testid=save-credentials]")
    page.wait_for_selector("[data-testid=credentials-error]")
    page.wait_for_selector("[data-testid=confirm-environment]")
    page.wait_for_timeout(800)  # the username field's lookup on load has answered
    assert page.is_checked("[data-testid=confirm-environment]")
    shot("failed-save-keeps-environment")
    assert page.text_content("[data-testid=environment]")
    assert not page.query_selector("[data-testid=environment-error]")  # the save's error is not repeated
    # Only the browser's note that the refused save answered 400 (it is a refusal).
    assert [p for p in problems if "status of 400" not in p] == [], problems
