"""What the benchmarks share: the emulator in its own process, counting its calls, an organization with
sample data and a connector set up on it, and writing a result section into docs/benchmarks.md."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask import AutotaskClient, AutotaskCredentials
from psabridge.config import Settings
from psabridge.connectors import service as connectors
from psabridge.emulator import seed
from psabridge.emulator.testing import EmulatorControl, EmulatorCredentials
from psabridge.hub.orgs import create_organization
from psabridge.hub.sample_data import generate
from psabridge.sync.tenant_defaults import recommended_settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def record_section(name: str, text: str) -> None:
    """Replace (or add) the section of docs/benchmarks.md between ``name``'s start and end markers."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    section = f"{start}\n{text.rstrip()}\n{end}"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        current = before + section + rest.split(end, 1)[1]
    else:
        current = current.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(current, encoding="utf-8")


@dataclass
class Emulator:
    """A running emulator process: where it listens, the tenant's credentials, its control API."""

    base_url: str
    credentials: EmulatorCredentials
    control: EmulatorControl

    @property
    def zone_url(self) -> str:
        return f"{self.base_url}/atservicesrest/v1.0/zoneInformation"


@contextmanager
def emulator_process() -> Iterator[Emulator]:
    """The emulator in its own process (Autotask is remote: it must not share our interpreter's GIL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = str(Path(sys.executable).with_name("psabridge"))
    proc = subprocess.Popen(
        [exe, "emulator", "--port", str(port), "--hourly-limit", "1000000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    control = EmulatorControl(base)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                control.calls()
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.2)
        creds = EmulatorCredentials(seed.DEMO_USERNAME, seed.DEMO_SECRET, seed.DEMO_INTEGRATION_CODE)
        yield Emulator(base, creds, control)
    finally:
        control.close()
        proc.terminate()
        proc.wait(10)


@contextmanager
def emulator_processes(count: int) -> Iterator[list[Emulator]]:
    """``count`` emulators, each its own process and tenant (same demo credentials), started together."""
    exe = str(Path(sys.executable).with_name("psabridge"))
    procs: list[subprocess.Popen[bytes]] = []
    emulators: list[Emulator] = []
    try:
        for _ in range(count):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            procs.append(
                subprocess.Popen(
                    [exe, "emulator", "--port", str(port), "--hourly-limit", "1000000"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            base = f"http://127.0.0.1:{port}"
            creds = EmulatorCredentials(seed.DEMO_USERNAME, seed.DEMO_SECRET, seed.DEMO_INTEGRATION_CODE)
            emulators.append(Emulator(base, creds, EmulatorControl(base)))
        deadline = time.monotonic() + 180
        for emu, proc in zip(emulators, procs, strict=True):
            while True:
                try:
                    emu.control.calls()
                    break
                except Exception:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("an emulator did not start") from None
                    time.sleep(0.2)
        yield emulators
    finally:
        for emu in emulators:
            emu.control.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def total_calls(calls: dict[str, Any], *, tenant_only: bool = True) -> int:
    """Requests the emulator served (zone discovery is not a tenant API call)."""
    return sum(
        n
        for entity, verbs in calls["calls"].items()
        if not (tenant_only and entity.lower() == "zoneinformation")
        for n in verbs.values()
    )


def new_organization(factory: sessionmaker[Session], *, customers: int, seed_: int = 3) -> int:
    """A new organization with ``customers`` customers of sample data. Returns its id."""
    with factory() as s:
        org = create_organization(s, "Bench MSP", "bench")
        generate(s, org, customers=customers, seed=seed_)
        s.commit()
        return org.id


def connect_autotask(
    factory: sessionmaker[Session], org_id: int, emu: Emulator, app_settings: Settings
) -> None:
    """Set up the organization's Autotask connector on the emulator with the recommended settings (as a
    user choosing by label would)."""
    with factory() as s:
        connector = connectors.create_or_update_connector(
            s,
            org_id,
            username=emu.credentials.username,
            secret=emu.credentials.secret,
            integration_code=emu.credentials.integration_code,
            app_settings=app_settings,
        )
        with AutotaskClient(AutotaskCredentials(*emu.credentials), zone_url=emu.zone_url) as setup:
            connector.settings_json = recommended_settings(setup).model_dump(mode="json")
        s.commit()


def connected_organization(
    factory: sessionmaker[Session], emu: Emulator, app_settings: Settings, *, customers: int, seed_: int = 3
) -> int:
    """A new organization with sample data and an Autotask connector on the emulator. Returns its id."""
    org_id = new_organization(factory, customers=customers, seed_=seed_)
    connect_autotask(factory, org_id, emu, app_settings)
    return org_id
