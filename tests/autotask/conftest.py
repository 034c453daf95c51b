"""Fixtures of the Autotask client tests: a real emulator on a loopback port (one server per module,
reset before each test) and a client pointed at it through zone discovery."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from psabridge.autotask import AutotaskClient, AutotaskCredentials, RetryPolicy, clear_caches
from psabridge.autotask.limits import TENANT_USAGE
from psabridge.emulator.app import create_emulator_app
from tests.support.servers import serve_in_thread

DEMO_USER = "psabridge-api@demo.example"
DEMO_SECRET = "demo-secret"
DEMO_CODE = "PSABRIDGE-DEMO"
#: Fast retries for tests (the retry *timing* is pinned in test_transport_units.py).
FAST_RETRY = RetryPolicy(max_attempts=5, initial_wait=0.01, max_wait=0.05, max_retry_after=0.1)


@dataclass
class Emu:
    """A running emulator: its base URL, zone URL and control-API helpers."""

    base_url: str
    control: httpx.Client

    @property
    def zone_url(self) -> str:
        return f"{self.base_url}/atservicesrest/v1.0/zoneInformation"

    def reset(self) -> None:
        self.control.post("/_emulator/reset").raise_for_status()
        self.control.delete("/_emulator/faults").raise_for_status()
        self.control.delete("/_emulator/calls").raise_for_status()
        self.control.post("/_emulator/latency", json={"ms": 0}).raise_for_status()
        self.control.post(
            "/_emulator/limits",
            json={"hourly_limit": 10000, "max_concurrent": 3, "window_seconds": 3600, "reset_counter": True},
        ).raise_for_status()

    def add_fault(self, **rule: Any) -> None:
        self.control.post("/_emulator/faults", json=rule).raise_for_status()

    def set_latency(self, ms: int) -> None:
        self.control.post("/_emulator/latency", json={"ms": ms}).raise_for_status()

    def calls(self) -> dict[str, Any]:
        data: dict[str, Any] = self.control.get("/_emulator/calls").json()
        return data

    def state(self) -> dict[str, list[dict[str, Any]]]:
        data: dict[str, list[dict[str, Any]]] = self.control.get("/_emulator/state").json()["entities"]
        return data

    def deny(self, entity: str, deny: bool = True) -> None:
        self.control.post("/_emulator/permissions", json={"entity": entity, "deny": deny}).raise_for_status()

    def limits(self, **settings: Any) -> None:
        self.control.post("/_emulator/limits", json=settings).raise_for_status()


@pytest.fixture(scope="module")
def _emu_server() -> Iterator[Emu]:
    with serve_in_thread(create_emulator_app()) as base, httpx.Client(base_url=base, timeout=30) as control:
        yield Emu(base, control)


@pytest.fixture()
def emu(_emu_server: Emu) -> Iterator[Emu]:
    _emu_server.reset()
    clear_caches()
    TENANT_USAGE.clear()
    yield _emu_server
    _emu_server.control.delete("/_emulator/faults")


@pytest.fixture()
def credentials() -> AutotaskCredentials:
    return AutotaskCredentials(DEMO_USER, DEMO_SECRET, DEMO_CODE)


@pytest.fixture()
def client(emu: Emu, credentials: AutotaskCredentials) -> Iterator[AutotaskClient]:
    with AutotaskClient(credentials, zone_url=emu.zone_url, retry=FAST_RETRY) as c:
        yield c
