"""Run the emulator on a loopback port for tests and benchmarks, with a small control client.

with running_emulator() as emu:
    client = AutotaskClient(AutotaskCredentials(*emu.credentials), zone_url=emu.zone_url)
    emu.control.add_fault(action="500", method="POST", entity="Contracts")
    emu.control.set_rules(refuse_unknown_fields=False)   # the lenient reading of an unverified rule
    emu.control.move_zone()                             # the tenant now answers under emu.moved_api_url
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import uvicorn

from psabridge.emulator import seed
from psabridge.emulator.app import Emulator, create_emulator_app
from psabridge.emulator.control import ZONE_PREFIXES
from psabridge.emulator.limits import LimitSettings
from psabridge.emulator.rules import RuleSwitches
from psabridge.emulator.tenant import EmulatorTenant


class EmulatorCredentials(NamedTuple):
    """The API user the emulator accepts (same field names as the client's credentials)."""

    username: str
    secret: str
    integration_code: str


class EmulatorControl:
    """Helpers over the ``/_emulator`` control API."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=f"{base_url}/_emulator", timeout=30.0)

    def _ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._ok(self._http.post("/reset"))

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = self._ok(self._http.get("/state"))
        return data

    def records(self, entity: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.state()["entities"][entity]
        return rows

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """``action`` ("500"|"429"|"thread_limit"|"drop_after_commit"|"latency"), ``method``, ``entity``
        (regex on the entity name), ``path`` (regex), ``count`` (default 1, None = always), ``skip``, ``ms``,
        ``status`` (thread_limit only: answer with this status)."""
        data: dict[str, Any] = self._ok(self._http.post("/faults", json=rule))
        return data

    def faults(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self._ok(self._http.get("/faults"))["rules"]
        return rules

    def clear_faults(self) -> None:
        self._ok(self._http.delete("/faults"))

    def set_latency(self, ms: int) -> None:
        self._ok(self._http.post("/latency", json={"ms": ms}))

    def calls(self) -> dict[str, Any]:
        data: dict[str, Any] = self._ok(self._http.get("/calls"))
        return data

    def clear_calls(self) -> None:
        self._ok(self._http.delete("/calls"))

    def deny(self, entity: str, deny: bool = True) -> None:
        """Emulate a security level without permission on ``entity``."""
        self._ok(self._http.post("/permissions", json={"entity": entity, "deny": deny}))

    def set_limits(self, **limits: Any) -> dict[str, Any]:
        """``hourly_limit``, ``window_seconds``, ``delay_over_50``, ``delay_over_75``, ``max_concurrent``,
        ``reset_counter``."""
        data: dict[str, Any] = self._ok(self._http.post("/limits", json=limits))
        return data

    def rules(self) -> dict[str, Any]:
        """The strictness switches (psabridge.emulator.rules.RuleSwitches) as they are now."""
        data: dict[str, Any] = self._ok(self._http.get("/rules"))
        return data

    def set_rules(self, **switches: Any) -> dict[str, Any]:
        """Change some switches, e.g. ``set_rules(one_adjustment_per_service_date=False)``; reset restores."""
        data: dict[str, Any] = self._ok(self._http.post("/rules", json=switches))
        return data

    def reset_rules(self) -> dict[str, Any]:
        """Every switch back to its default (strict)."""
        data: dict[str, Any] = self._ok(self._http.post("/rules", json={"reset": True}))
        return data

    def move_zone(self, moved: bool = True) -> dict[str, Any]:
        """Move the tenant to zone 2 (``moved=False``: back to zone 1): the old base then answers 401 and
        zoneInformation names the new URL. Reset moves it back."""
        data: dict[str, Any] = self._ok(self._http.post("/zone", json={"moved": moved}))
        return data

    def zone(self) -> dict[str, Any]:
        """``{"moved", "zone", "zoneName", "url"}``: where the tenant lives now."""
        data: dict[str, Any] = self._ok(self._http.get("/zone"))
        return data

    def close(self) -> None:
        self._http.close()


@dataclass
class EmulatorHandle:
    """A running emulator: where it listens, whom it accepts, and how to steer it."""

    base_url: str
    credentials: EmulatorCredentials
    control: EmulatorControl
    emulator: Emulator

    @property
    def zone_url(self) -> str:
        """The zone-discovery address (what ``PSABRIDGE_AUTOTASK_ZONE_URL`` points at)."""
        return f"{self.base_url}/atservicesrest/v1.0/zoneInformation"

    @property
    def api_url(self) -> str:
        """The REST base of zone 1, where the tenant lives until a zone move."""
        return f"{self.base_url}/ATServicesRest/"

    @property
    def moved_api_url(self) -> str:
        """The REST base of zone 2, where the tenant lives after ``control.move_zone()``."""
        return f"{self.base_url}{ZONE_PREFIXES[2]}/ATServicesRest/"

    @property
    def current_api_url(self) -> str:
        """The REST base the zone answer points at now (``api_url`` or ``moved_api_url``)."""
        return self.moved_api_url if self.emulator.zone == 2 else self.api_url

    @property
    def tenant(self) -> EmulatorTenant:
        return self.emulator.tenant

    def headers(self) -> dict[str, str]:
        """Autotask authentication headers of the API user."""
        return {
            "ApiIntegrationCode": self.credentials.integration_code,
            "UserName": self.credentials.username,
            "Secret": self.credentials.secret,
        }


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_emulator(
    *,
    username: str = seed.DEMO_USERNAME,
    secret: str = seed.DEMO_SECRET,
    integration_code: str = seed.DEMO_INTEGRATION_CODE,
    state_file: str | Path | None = None,
    fsync: bool = False,
    limits: LimitSettings | None = None,
    rules: RuleSwitches | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> Iterator[EmulatorHandle]:
    """Serve a fresh emulator on ``host`` in a background thread; stop it on exit.

    With ``state_file`` the tenant is kept there (snapshot + journal, ``fsync`` after each write when
    asked) and compacted into the snapshot when the server stops. ``rules`` are the strictness switches
    the tenant starts with and every reset restores (default: all strict).
    """
    tenant = EmulatorTenant(
        username=username,
        secret=secret,
        integration_code=integration_code,
        state_file=state_file,
        fsync=fsync,
        rules=rules,
    )
    app = create_emulator_app(tenant, limits=limits)
    port = port or _free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="critical", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"autotask-emulator-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Autotask emulator did not start")
        time.sleep(0.01)
    base_url = f"http://{host}:{port}"
    control = EmulatorControl(base_url)
    try:
        yield EmulatorHandle(
            base_url=base_url,
            credentials=EmulatorCredentials(username, secret, integration_code),
            control=control,
            emulator=app.state.emulator,
        )
    finally:
        control.close()
        server.should_exit = True
        thread.join(timeout=10)
        tenant.close()
