"""Browser-test helpers shared by every Admin Hub test: Chromium launch options and signing in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"


def artifact_dir(nodeid_name: str) -> Path:
    """``test-artifacts/<test name>/`` (parametrisation brackets made filesystem-safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid_name).strip("_")
    path = ARTIFACTS_DIR / safe
    path.mkdir(parents=True, exist_ok=True)
    return path


def login(page: Any, base_url: str, email: str, password: str) -> None:
    """Sign in through the real login form and wait for the Admin Hub layout."""
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=user-menu]")
