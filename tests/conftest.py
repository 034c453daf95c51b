"""Shared fixtures: the database under test (SQLite file, or PostgreSQL when
``PSABRIDGE_TEST_DATABASE_URL`` is set by scripts/test.sh), migrated once and emptied between tests."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from psabridge.all_models import metadata
from psabridge.config import Settings, get_settings
from psabridge.db import make_engine, make_sessionmaker, migrate

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
SWAGGER_PATH = Path(
    os.environ.get("PSABRIDGE_AUTOTASK_DESCRIPTION")
    or SHARED_DIR / "autotask" / "autotask-rest-v1.swagger.json"
)
#: What the conformance tests need of the official description, distilled and committed
#: (scripts/gen_description_digest.py), so they run — never skip — in a clone without ../shared.
DIGEST_PATH = Path(__file__).resolve().parent / "fixtures" / "autotask_description_digest.json"


def description_digest() -> dict[str, Any]:
    """The committed digest of the official description (see ``DIGEST_PATH``); fails loudly if missing."""
    if not DIGEST_PATH.exists():
        raise AssertionError(
            f"{DIGEST_PATH} is missing: run scripts/gen_description_digest.py against the official description"
        )
    data: dict[str, Any] = json.loads(DIGEST_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(autouse=True)
def _no_job_outlives_its_test() -> Iterator[None]:
    """A job a test queued on this process's timer (a quiet period, a resume) must not fire in a later
    test, against a database and keys that are gone."""
    yield
    from psabridge.jobs.service import stop_timers

    stop_timers()


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of the database for this test session, migrated to head."""
    url = os.environ.get("PSABRIDGE_TEST_DATABASE_URL") or ""
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def _empty_all_tables(engine: Engine) -> None:
    tables = [t for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            if tables:
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture()
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory on an empty database; tables are emptied after the test."""
    yield make_sessionmaker(engine)
    _empty_all_tables(engine)


@pytest.fixture()
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session on an empty database."""
    session = session_factory()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture()
def settings(
    db_url: str, session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings pointing at the (emptied after the test) test database and a fresh data directory."""
    monkeypatch.setenv("PSABRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PSABRIDGE_DATABASE_URL", db_url)
    # no background syncs after hub changes unless a test asks for them (tests/jobs)
    monkeypatch.setenv("PSABRIDGE_CHANGE_SYNC_DELAY_SECONDS", "0")
    monkeypatch.delenv("PSABRIDGE_BROKER_URL", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


# --- Admin Hub: live server, users and a real browser (web-shell engineer) ---------------------------


@dataclass(frozen=True)
class OrgUser:
    """A user made by ``make_org_user``; ``password`` is the plaintext the test signs in with."""

    organization_id: int
    slug: str
    email: str
    password: str
    role: str


@pytest.fixture()
def make_org_user(session_factory: sessionmaker[Session]) -> Callable[..., OrgUser]:
    """Factory: ``make_org_user(slug="acme", role="admin")`` creates the organization if needed and a user."""
    from psabridge.auth.users import create_user
    from psabridge.hub.models import Organization

    counter = iter(range(1, 10_000))

    def make(slug: str = "acme", role: str = "admin", email: str | None = None) -> OrgUser:
        password = f"pw-{slug}-{role}-long-enough"
        with session_factory() as db:
            org = db.scalar(select(Organization).where(Organization.slug == slug))
            if org is None:
                org = Organization(name=f"{slug.title()} MSP", slug=slug)
                db.add(org)
                db.flush()
            address = email or f"{role}{next(counter)}@{slug}.test"
            create_user(db, org.id, email=address, password=password, role=role)
            db.commit()
            return OrgUser(org.id, slug, address, password, role)

    return make


@pytest.fixture()
def live_app(settings: Settings) -> Iterator[str]:
    """The real application on the test database, served on a loopback port; yields its base URL."""
    from psabridge.web.app import create_app
    from tests.support.servers import serve_in_thread

    app = create_app(settings, run_migrations=False)
    with serve_in_thread(app) as base_url:
        yield base_url
    app.state.engine.dispose()


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def browser_page(_chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Playwright page in a fresh browser context (no cookies shared between tests).

    Use with ``shot("step-name")`` to keep a screenshot per step in ``test-artifacts/<test name>/``;
    a ``zz-final.png`` is always kept, which shows the page when an assertion failed.
    """
    context = _chromium.new_context(viewport={"width": 1366, "height": 850})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        from tests.support.browser import artifact_dir

        with contextlib.suppress(Exception):
            page.screenshot(path=str(artifact_dir(request.node.name) / "zz-final.png"), full_page=True)
        context.close()


@pytest.fixture()
def shot(browser_page: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """``shot("01-login")`` saves a full-page screenshot of ``browser_page`` as a test artifact."""
    from tests.support.browser import artifact_dir

    steps = iter(range(1, 1000))

    def take(name: str) -> Path:
        path = artifact_dir(request.node.name) / f"{next(steps):02d}-{name}.png"
        browser_page.screenshot(path=str(path), full_page=True)
        return path

    return take


# --- Autotask emulator (emulator engineer) ------------------------------------------------------------


@pytest.fixture(scope="session")
def _emulator_server() -> Iterator[Any]:
    """One emulator process-wide (starting uvicorn per test would dominate the suite's time)."""
    from psabridge.emulator.testing import running_emulator

    with running_emulator() as handle:
        yield handle


@pytest.fixture()
def emulator(_emulator_server: Any) -> Iterator[Any]:
    """A running, freshly re-seeded Autotask emulator (``psabridge.emulator.testing.EmulatorHandle``):
    ``.base_url``, ``.zone_url``, ``.credentials``, ``.control`` (reset, state, add_fault, ...)."""
    _emulator_server.control.reset()
    yield _emulator_server
    _emulator_server.control.reset()
