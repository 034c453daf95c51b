"""``--state FILE`` durability: snapshot + journal over real HTTP.

An acknowledged write must survive a kill -9 of the emulator (the sync engine's crash tests restart
against the same tenant), replaying the journal must rebuild exactly the live tenant, compaction must
not change it, and a journal line torn by a crash mid-append must be dropped cleanly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from psabridge.emulator.app import create_emulator_app
from psabridge.emulator.store import SEQ_KEY, StateFileError, journal_path
from psabridge.emulator.tenant import EmulatorTenant
from psabridge.emulator.testing import running_emulator
from tests.emulator.conftest import picklist_value
from tests.emulator.test_writes import COMPANY, contract_body
from tests.support.servers import free_port, serve_in_thread

HEADERS = {
    "UserName": "psabridge-api@demo.example",
    "Secret": "demo-secret",
    "ApiIntegrationCode": "PSABRIDGE-DEMO",
}


def _api(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=f"{base_url}/ATServicesRest/V1.0", headers=HEADERS, timeout=30.0)


def _ok(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    return int(response.json()["itemId"])


def _normal(state: dict[str, Any]) -> Any:
    """A tenant state as JSON sees it (int keys become text, key order ignored)."""
    return json.loads(json.dumps(state, sort_keys=True))


def _workload(api: httpx.Client, base_url: str) -> dict[str, int]:
    """Every kind of write the tenant journals: creates, PATCH, DELETE, child routes, adjustments
    (existing and new contract service), contract date changes that rebuild unit rows, a default
    vendor that flips another row, a permission change."""
    ids: dict[str, int] = {}
    ids["company"] = _ok(api.post("/Companies", json=COMPANY))
    _ok(api.patch("/Companies", json={"id": ids["company"], "city": "Berlin"}))
    contact = _ok(
        api.post(
            f"/Companies/{ids['company']}/Contacts", json={"firstName": "K", "lastName": "L", "isActive": 1}
        )
    )
    assert api.delete(f"/Companies/{ids['company']}/Contacts/{contact}").status_code == 200
    ids["contact"] = _ok(
        api.post(
            f"/Companies/{ids['company']}/Contacts", json={"firstName": "A", "lastName": "B", "isActive": 1}
        )
    )
    recurring = picklist_value(api, "Contracts", "contractType", "Recurring Service")
    ids["contract"] = _ok(api.post("/Contracts", json=contract_body(ids["company"], recurring)))
    ids["cs"] = _ok(
        api.post(
            f"/Contracts/{ids['contract']}/Services",
            json={"serviceID": 310, "unitPrice": 45},
        )
    )
    _ok(
        api.post(
            "/ContractServiceAdjustments",
            json={
                "contractID": ids["contract"],
                "contractServiceID": ids["cs"],
                "effectiveDate": "2026-01-01T00:00:00",
                "unitChange": 3,
            },
        )
    )
    _ok(
        api.post(
            "/ContractServiceAdjustments",
            json={
                "contractID": ids["contract"],
                "contractServiceID": ids["cs"],
                "effectiveDate": "2026-03-15T00:00:00",
                "unitChange": 2,
                "adjustedUnitPrice": 50,
            },
        )
    )
    ids["service"] = _ok(
        api.post(
            "/Services", json={"name": "Backup", "unitPrice": 9, "periodType": 2, "billingCodeID": 29682810}
        )
    )
    _ok(
        api.post(
            "/ContractServiceAdjustments",
            json={
                "contractID": ids["contract"],
                "serviceID": ids["service"],
                "effectiveDate": "2026-02-01T00:00:00",
                "unitChange": 4,
            },
        )
    )
    _ok(api.patch("/Contracts", json={"id": ids["contract"], "endDate": "2026-06-30T00:00:00"}))
    operational = picklist_value(api, "ContractCharges", "chargeType", "Operational")
    charge = {
        "name": "Setup",
        "datePurchased": "2026-01-01T00:00:00",
        "chargeType": operational,
        "billingCodeID": 29682806,
    }
    ids["charge"] = _ok(
        api.post(
            f"/Contracts/{ids['contract']}/Charges", json={**charge, "unitQuantity": 1, "unitPrice": 100}
        )
    )
    _ok(api.patch(f"/Contracts/{ids['contract']}/Charges", json={"id": ids["charge"], "unitQuantity": 2}))
    gone = _ok(api.post(f"/Contracts/{ids['contract']}/Charges", json={**charge, "unitQuantity": 1}))
    assert api.delete(f"/Contracts/{ids['contract']}/Charges/{gone}").status_code == 200
    _ok(api.post("/Products/210/Vendors", json={"vendorID": 175, "isActive": True, "isDefault": True}))
    denied = httpx.post(f"{base_url}/_emulator/permissions", json={"entity": "BillingCodes", "deny": True})
    assert denied.status_code == 200
    return ids


def _wait_up(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/_emulator/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "emulator did not start"
        time.sleep(0.1)


@pytest.fixture()
def cli_emulator(tmp_path: Path) -> Iterator[Any]:
    """Start ``psabridge emulator --state`` subprocesses; kills any still running at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(state: Path) -> tuple[str, subprocess.Popen[str]]:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "psabridge.cli", "emulator", "--port", str(port), "--state", str(state)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("PSABRIDGE_")},
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        _wait_up(base, proc)
        return base, proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=15)


def test_acknowledged_writes_survive_kill_9(tmp_path: Path, cli_emulator: Any) -> None:
    state = tmp_path / "tenant.json"
    base, proc = cli_emulator(state)
    with _api(base) as api:
        ids = _workload(api, base)
        live = httpx.get(f"{base}/_emulator/state").json()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=15)
    # the snapshot predates the writes: they are only in the journal the killed process flushed
    assert str(ids["company"]) not in json.loads(state.read_text())["records"]["Companies"]
    assert journal_path(state).stat().st_size > 0

    base, proc = cli_emulator(state)
    with _api(base) as api:
        assert httpx.get(f"{base}/_emulator/state").json() == live
        company = api.get(f"/Companies/{ids['company']}").json()["item"]
        assert company["companyName"] == "Acme" and company["city"] == "Berlin"
        rows = api.post(
            "/ContractServiceUnits/query",
            json={"filter": [{"op": "eq", "field": "contractServiceID", "value": ids["cs"]}]},
        ).json()["items"]
        ends = sorted(r["endDate"][:10] for r in rows)
        assert len(rows) == 7 and ends[-1] == "2026-06-30"  # split on 03-15, cut at 06-30
        # ids keep counting and the duplicate-adjustment rule remembers the past
        assert _ok(api.post("/Companies", json=COMPANY)) == ids["company"] + 1
        again = api.post(
            "/ContractServiceAdjustments",
            json={
                "contractID": ids["contract"],
                "contractServiceID": ids["cs"],
                "effectiveDate": "2026-03-15T00:00:00",
                "unitChange": 1,
            },
        )
        assert again.status_code == 500
    proc.send_signal(signal.SIGINT)  # clean shutdown folds the journal into the snapshot
    proc.wait(timeout=15)
    assert journal_path(state).stat().st_size == 0
    assert str(ids["company"] + 1) in json.loads(state.read_text())["records"]["Companies"]


def test_replay_and_compaction_rebuild_the_identical_tenant(tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    tenant = EmulatorTenant(state_file=state, compact_bytes=1)  # compact whenever journal > snapshot
    with serve_in_thread(create_emulator_app(tenant)) as base, _api(base) as api:
        for _ in range(10):  # until the journal outgrows the snapshot and is compacted mid-run
            _workload(api, base)
            if json.loads(state.read_text())[SEQ_KEY] > 0:
                break
        assert json.loads(state.read_text())[SEQ_KEY] > 0
        for n in range(3):
            _ok(api.patch("/Companies", json={"id": 180, "city": f"City {n}"}))
        assert journal_path(state).stat().st_size > 0
        # what a kill -9 now would leave behind: snapshot + journal, replayed by a new process
        crash = tmp_path / "crash"
        crash.mkdir()
        shutil.copy(state, crash / state.name)
        shutil.copy(journal_path(state), journal_path(crash / state.name))
        replayed = EmulatorTenant(state_file=crash / state.name)
        assert _normal(replayed.state) == _normal(tenant.state)
        live = httpx.get(f"{base}/_emulator/state").json()
    # the server stopped cleanly: one snapshot, empty journal, same tenant
    assert journal_path(state).stat().st_size == 0
    with running_emulator(state_file=state) as emu:
        assert emu.control.state() == live
        assert _normal(emu.tenant.state) == _normal(tenant.state)


def test_torn_last_journal_line_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    tenant = EmulatorTenant(state_file=state)
    with serve_in_thread(create_emulator_app(tenant)) as base, _api(base) as api:
        first = _ok(api.post("/Companies", json=COMPANY))
        second = _ok(api.post("/Companies", json={**COMPANY, "companyName": "Beta"}))
        journal = journal_path(state)
        lines = journal.read_bytes().splitlines(keepends=True)
        assert len(lines) == 2
        crash = tmp_path / "crash"
        crash.mkdir()
        shutil.copy(state, crash / state.name)
        # the process died half-way through appending a third write (never acknowledged)
        journal_path(crash / state.name).write_bytes(b"".join(lines) + lines[1][: len(lines[1]) // 2])
    with running_emulator(state_file=crash / state.name) as emu, _api(emu.base_url) as api:
        assert api.get(f"/Companies/{first}").json()["item"]["companyName"] == "Acme"
        assert api.get(f"/Companies/{second}").json()["item"]["companyName"] == "Beta"
        third = _ok(api.post("/Companies", json={**COMPANY, "companyName": "Gamma"}))
        assert third == second + 1
        # the torn bytes were cut off, so the new entry is a clean line of its own
        tail = journal_path(crash / state.name).read_bytes().splitlines()
        assert len(tail) == 3 and all(json.loads(line)["seq"] for line in tail)
    reloaded = EmulatorTenant(state_file=crash / state.name)
    assert reloaded.get("Companies", third) is not None


def test_damage_before_intact_journal_lines_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    tenant = EmulatorTenant(state_file=state)
    with serve_in_thread(create_emulator_app(tenant)) as base, _api(base) as api:
        for name in ("A", "B", "C"):
            _ok(api.post("/Companies", json={**COMPANY, "companyName": name}))
        lines = journal_path(state).read_bytes().splitlines(keepends=True)
    lines[1] = b'{"seq": 2, "chan\n'
    journal_path(state).write_bytes(b"".join(lines))
    with pytest.raises(StateFileError, match="line 2"):
        EmulatorTenant(state_file=state)


def test_a_state_file_from_before_the_journal_still_loads(tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    with running_emulator(state_file=state) as emu, _api(emu.base_url) as api:
        company = _ok(api.post("/Companies", json=COMPANY))
    old = json.loads(state.read_text())
    del old[SEQ_KEY]  # the single-file format had no journal sequence
    state.write_text(json.dumps(old))
    journal_path(state).unlink()
    with running_emulator(state_file=state) as emu, _api(emu.base_url) as api:
        assert api.get(f"/Companies/{company}").json()["item"]["companyName"] == "Acme"
        assert _ok(api.post("/Companies", json=COMPANY)) == company + 1
    with running_emulator(state_file=state) as emu:
        assert len([c for c in emu.control.records("Companies") if c["companyName"] == "Acme"]) == 2
