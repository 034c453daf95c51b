"""Fixtures of the reconciliation tests: the session's shared emulator (reset before each test), an
organization with a set-up Autotask connector on it, and hub records built directly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.emulator.testing import EmulatorHandle
from tests.sync.support import Hub, SyncEnv, make_env


@pytest.fixture()
def emu(_emulator_server: Any) -> Iterator[EmulatorHandle]:
    """The session's emulator with a freshly seeded tenant, no faults, no latency, zeroed counters."""
    from psabridge.autotask.limits import TENANT_USAGE

    TENANT_USAGE.clear()
    c = _emulator_server.control
    c.reset()
    c.set_limits(reset_counter=True)
    c.clear_faults()
    c.set_latency(0)
    c.clear_calls()
    yield _emulator_server
    c.clear_faults()
    c.set_latency(0)


@pytest.fixture()
def app_settings(settings: Settings, emu: EmulatorHandle) -> Settings:
    return settings.model_copy(update={"autotask_zone_url": emu.zone_url})


@pytest.fixture()
def env(
    emu: EmulatorHandle, session_factory: sessionmaker[Session], app_settings: Settings
) -> Iterator[SyncEnv]:
    e = make_env(emu, session_factory, app_settings)
    yield e
    e.close()


@pytest.fixture()
def hub(env: SyncEnv) -> Hub:
    return Hub(env.factory, env.org_id)


@pytest.fixture()
def reconcile_app(app_settings: Settings, env: SyncEnv) -> Iterator[str]:
    """The real application on the test database (zone discovery on the emulator); yields its base URL."""
    from psabridge.web.app import create_app
    from tests.support.servers import serve_in_thread

    app = create_app(app_settings, run_migrations=False)
    with serve_in_thread(app) as base_url:
        yield base_url
    app.state.engine.dispose()
