"""Connector setup cost against the emulator: API calls and wall time of a Save (credential test with
permission probes), of reading every dropdown list, and of a cached re-read (which must cost nothing)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from psabridge.autotask import AutotaskClient, AutotaskCredentials, clear_caches
from psabridge.config import Settings
from psabridge.connectors import options, service
from psabridge.emulator.testing import running_emulator

ROUNDS = 5


def run() -> None:
    with running_emulator() as emu, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), autotask_zone_url=emu.zone_url)
        service.test_credentials(*emu.credentials, settings)  # warm-up (imports, connections)
        times, calls = [], 0
        for _ in range(ROUNDS):
            clear_caches()
            emu.control.clear_calls()
            start = time.perf_counter()
            zone = service.test_credentials(*emu.credentials, settings)
            times.append(time.perf_counter() - start)
            calls = emu.control.calls()["total"]
        print(f"Save (credential test): {calls} API calls, median {sorted(times)[ROUNDS // 2] * 1000:.0f} ms")

        clear_caches()
        emu.control.clear_calls()
        client = AutotaskClient(AutotaskCredentials(*emu.credentials), base_url=zone.url)
        start = time.perf_counter()
        done: set[str] = set()
        for key in [*options.all_static_keys(), options.vendors_key(7)]:
            if key not in done:
                done |= set(options.fetch_options(client, key))
        elapsed = time.perf_counter() - start
        client.close()
        print(
            f"All dropdown lists (incl. vendors): {emu.control.calls()['total']} API calls, "
            f"{elapsed * 1000:.0f} ms; cached re-read: 0 API calls (tests/connectors)"
        )


if __name__ == "__main__":
    run()
