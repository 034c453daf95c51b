"""Fixtures of the sync engine's end-to-end tests: one emulator per session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.emulator.testing import EmulatorHandle, running_emulator
from psabridge.hub import models as m
from psabridge.hub.orgs import create_api_token
from tests.support.servers import serve_in_thread
from tests.sync.support import Hub, SyncEnv, make_env


@pytest.fixture(scope="session")
def _sync_emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as emu:
        yield emu


@pytest.fixture()
def emu(_sync_emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    """The emulator with a freshly seeded tenant, no faults, no latency, zeroed counters."""
    from psabridge.autotask.limits import TENANT_USAGE

    TENANT_USAGE.clear()  # the client's rolling-hour budget is per process: start each test fresh
    c = _sync_emulator.control
    c.reset()
    c.set_limits(reset_counter=True)
    c.clear_faults()
    c.set_latency(0)
    c.clear_calls()
    yield _sync_emulator
    c.clear_faults()
    c.set_latency(0)


@pytest.fixture()
def app_settings(settings: Settings, emu: EmulatorHandle) -> Settings:
    """Process settings pointing zone discovery at the emulator (as the demo and tests do)."""
    return settings.model_copy(update={"autotask_zone_url": emu.zone_url})


@pytest.fixture()
def env(
    emu: EmulatorHandle, session_factory: sessionmaker[Session], app_settings: Settings
) -> Iterator[SyncEnv]:
    """An organization with a set-up Autotask connector on the emulator."""
    e = make_env(emu, session_factory, app_settings)
    yield e
    e.close()


@pytest.fixture()
def hub(env: SyncEnv) -> Hub:
    return Hub(env.factory, env.org_id)


@pytest.fixture()
def api(env: SyncEnv) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """(admin, viewer) HTTP clients of the real app on a loopback port."""
    from psabridge.web.app import create_app

    with env.factory() as s:
        org = s.get(m.Organization, env.org_id)
        assert org is not None
        _, admin = create_api_token(s, org, role="admin")
        _, viewer = create_api_token(s, org, role="viewer")
        s.commit()
    app = create_app(env.app_settings, run_migrations=False)
    with serve_in_thread(app) as base:
        a = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {admin}"}, timeout=60)
        v = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {viewer}"}, timeout=60)
        yield a, v
        a.close()
        v.close()
    app.state.engine.dispose()
