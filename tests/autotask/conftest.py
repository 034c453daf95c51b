"""Fixtures of the Autotask client tests: the shared ``emulator`` fixture (a real emulator on a loopback
port, re-seeded per test) wrapped with a few helpers, and a client pointed at it through zone discovery."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from psabridge.autotask import AutotaskClient, AutotaskCredentials, RetryPolicy, clear_caches
from psabridge.autotask.limits import TENANT_USAGE

DEMO_USER = "psabridge-api@demo.example"
DEMO_SECRET = "demo-secret"
DEMO_CODE = "PSABRIDGE-DEMO"
#: Fast retries for tests (the retry *timing* is pinned in test_transport_units.py).
FAST_RETRY = RetryPolicy(max_attempts=5, initial_wait=0.01, max_wait=0.05, max_retry_after=0.1)
DEFAULT_LIMITS = {"hourly_limit": 10000, "max_concurrent": 3, "window_seconds": 3600, "reset_counter": True}


@dataclass
class Emu:
    """The running emulator (``psabridge.emulator.testing.EmulatorHandle``) with the helpers these tests use."""

    handle: Any

    @property
    def base_url(self) -> str:
        return str(self.handle.base_url)

    @property
    def zone_url(self) -> str:
        return str(self.handle.zone_url)

    def add_fault(self, **rule: Any) -> None:
        self.handle.control.add_fault(**rule)

    def set_latency(self, ms: int) -> None:
        self.handle.control.set_latency(ms)

    def calls(self) -> dict[str, Any]:
        data: dict[str, Any] = self.handle.control.calls()
        return data

    def state(self) -> dict[str, list[dict[str, Any]]]:
        data: dict[str, list[dict[str, Any]]] = self.handle.control.state()["entities"]
        return data

    def deny(self, entity: str, deny: bool = True) -> None:
        self.handle.control.deny(entity, deny)

    def limits(self, **settings: Any) -> None:
        self.handle.control.set_limits(**settings)


@pytest.fixture()
def emu(emulator: Any) -> Iterator[Emu]:
    """The shared emulator, with default limits and no cached zone/metadata/budget in this process."""
    wrapped = Emu(emulator)
    wrapped.limits(**DEFAULT_LIMITS)
    clear_caches()
    TENANT_USAGE.clear()
    yield wrapped
    emulator.control.clear_faults()
    emulator.control.set_latency(0)
    wrapped.limits(**DEFAULT_LIMITS)


@pytest.fixture()
def credentials() -> AutotaskCredentials:
    return AutotaskCredentials(DEMO_USER, DEMO_SECRET, DEMO_CODE)


@pytest.fixture()
def client(emu: Emu, credentials: AutotaskCredentials) -> Iterator[AutotaskClient]:
    with AutotaskClient(credentials, zone_url=emu.zone_url, retry=FAST_RETRY) as c:
        yield c
