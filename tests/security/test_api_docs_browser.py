"""/docs and /redoc render under the Content-Security-Policy from packaged assets (issue 10: they were
blank — CDN scripts and an inline script, both blocked)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("path", "rendered"), [("/docs", ".opblock"), ("/redoc", "[role=menuitem], li label")]
)
def test_api_docs_render_without_cdn_or_csp_violations(
    live_app: str, browser_page: Any, shot: Callable[[str], Path], path: str, rendered: str
) -> None:
    page = browser_page
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("request", lambda req: requests.append(req.url))
    page.goto(f"{live_app}{path}")
    page.wait_for_selector(rendered, timeout=20_000)
    assert "/api/v1/accounts" in page.content()
    shot(path.strip("/"))
    assert problems == [], problems
    assert all(url.startswith(live_app) or url.startswith(("data:", "blob:")) for url in requests), requests
    html = httpx.get(f"{live_app}{path}").text
    assert "<script>" not in html and "cdn." not in html
