"""Shared fixtures: the database under test (SQLite file, or PostgreSQL when
``PSABRIDGE_TEST_DATABASE_URL`` is set by scripts/test.sh), migrated once and emptied between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from psabridge.all_models import metadata
from psabridge.config import Settings, get_settings
from psabridge.db import make_engine, make_sessionmaker, migrate

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
SWAGGER_PATH = SHARED_DIR / "autotask" / "autotask-rest-v1.swagger.json"


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
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


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
