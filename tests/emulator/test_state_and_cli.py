"""The tenant survives restarts with ``--state FILE``; the CLI prints the credentials it accepts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from psabridge.emulator.testing import running_emulator
from tests.emulator.test_writes import COMPANY, contract_body
from tests.support.servers import free_port


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    with running_emulator(state_file=state) as emu:
        api = httpx.Client(base_url=f"{emu.base_url}/ATServicesRest/V1.0", headers=emu.headers())
        company_id = api.post("/Companies", json=COMPANY).json()["itemId"]
        contract_id = api.post("/Contracts", json=contract_body()).json()["itemId"]
        api.post(
            "/ContractServiceAdjustments",
            json={
                "contractID": contract_id,
                "serviceID": 310,
                "effectiveDate": "2026-02-01T00:00:00",
                "unitChange": 4,
            },
        )
        api.close()
    assert json.loads(state.read_text())["records"]["Companies"][str(company_id)]["companyName"] == "Acme"
    assert not list(tmp_path.glob(".emulator-state-*"))  # atomic write leaves no temp files
    with running_emulator(state_file=state) as emu:
        api = httpx.Client(base_url=f"{emu.base_url}/ATServicesRest/V1.0", headers=emu.headers())
        assert api.get(f"/Companies/{company_id}").json()["item"]["companyName"] == "Acme"
        services = api.get(f"/Contracts/{contract_id}/Services").json()["items"]
        assert len(services) == 1
        # ids keep counting from where they were; the duplicate-adjustment rule still knows the past
        again = api.post(
            "/ContractServiceAdjustments",
            json={
                "contractID": contract_id,
                "serviceID": 310,
                "effectiveDate": "2026-02-01T00:00:00",
                "unitChange": 1,
            },
        )
        assert again.status_code == 500
        assert api.post("/Companies", json=COMPANY).json()["itemId"] == company_id + 1
        assert len(emu.control.state()["entities"]["ContractServiceAdjustments"]) == 1
        api.close()


def test_cli_serves_and_prints_the_accepted_credentials(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, PSABRIDGE_EMULATOR_SECRET="s3cret-from-env")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "psabridge.cli",
            "emulator",
            "--port",
            str(port),
            "--username",
            "api@x.example",
            "--integration-code",
            "CODE-1",
            "--state",
            str(tmp_path / "s.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/_emulator/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "emulator did not start"
            time.sleep(0.1)
        headers = {"UserName": "api@x.example", "Secret": "s3cret-from-env", "ApiIntegrationCode": "CODE-1"}
        assert httpx.get(f"{base}/ATServicesRest/V1.0/Companies/0", headers=headers).status_code == 200
        zone = httpx.get(
            f"{base}/atservicesrest/v1.0/zoneInformation", params={"user": "api@x.example"}
        ).json()
        assert zone["url"] == f"{base}/ATServicesRest/"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    assert "api@x.example" in out and "s3cret-from-env" in out and "CODE-1" in out
