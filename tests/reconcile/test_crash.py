"""``psabridge reconcile apply`` killed (SIGKILL) while it writes approved fixes, then run again: every
fix is written exactly once (no second adjustment of the same correction), and every fix ends applied."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from psabridge.reconcile.approve import approve
from psabridge.sync.models import JournalEntry
from tests.reconcile.scenario import DAY, changed_by_hand
from tests.reconcile.support import fix_of, found, reconcile
from tests.sync.support import Hub, SyncEnv, count_calls

PSABRIDGE = str(Path(sys.executable).with_name("psabridge"))


def _env(env: SyncEnv) -> dict[str, str]:
    out = dict(os.environ)
    out["PSABRIDGE_AUTOTASK_ZONE_URL"] = env.emu.zone_url
    out["PSABRIDGE_DATABASE_URL"] = env.app_settings.resolved_database_url()
    out["PSABRIDGE_DATA_DIR"] = str(env.app_settings.data_dir)
    return out


def _apply_killed_after(env: SyncEnv, run_id: int, writes: int, timeout: float = 60.0) -> bool:
    start = count_calls(env.emu.control.calls(), writes_only=True)
    proc = subprocess.Popen(
        [PSABRIDGE, "reconcile", "apply", str(run_id), "--org", "acme", "--json"],
        env=_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if count_calls(env.emu.control.calls(), writes_only=True) - start >= writes:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                return True
            time.sleep(0.005)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.slow
def test_killed_while_applying_fixes_writes_each_once(env: SyncEnv, hub: Hub) -> None:
    changed_by_hand(env, hub)
    run = reconcile(env, DAY)
    diffs = found(env, run)
    writes = [d for d in diffs if d["fixes"][0]["kind"] in ("adjust", "write_back")]
    with env.factory() as s:
        approve(s, env.org_id, run.id, [fix_of(d, d["fixes"][0]["kind"]) for d in writes], "admin@acme.test")
    before = len(env.adjustments())
    env.emu.control.set_latency(60)  # every write is in flight long enough to be cut
    kills = sum(_apply_killed_after(env, run.id, n) for n in (1, 2))
    assert kills == 2
    env.emu.control.set_latency(0)
    time.sleep(0.3)  # the last request the killed process sent is answered by the emulator meanwhile
    done = subprocess.run(
        [PSABRIDGE, "reconcile", "apply", str(run.id), "--org", "acme", "--json"],
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    new = env.adjustments()[before:]
    assert sorted(
        (a["effectiveDate"][:10], a["unitChange"], a.get("adjustedUnitPrice")) for a in new
    ) == sorted([("2026-03-15", -2, None), ("2026-03-15", 0, 9.5), ("2026-03-15", -3, None)])
    statuses = [
        x["status"]
        for d in found(env, run)
        for x in d["fixes"]
        if x["id"] in json.loads(done.stdout)["applied"]
    ]
    assert statuses and set(statuses) == {"applied"}
    fixed = {x["id"] for d in found(env, run) for x in d["fixes"] if x["status"] == "applied"}
    assert fixed == {fix_of(d, d["fixes"][0]["kind"]) for d in writes}
    with env.factory() as s:  # the kills landed while writes were in flight: resolved from Autotask
        outcomes = [
            e.outcome
            for e in s.query(JournalEntry).filter(JournalEntry.op_id.like(f"reconcile:{run.id}:%")).all()
        ]
    assert "recovered" in outcomes or "absent" in outcomes, outcomes
    # nothing is left to write: Autotask now holds what every fix wrote
    left = {(d["category"], d["record"]) for d in found(env, reconcile(env, DAY))}
    assert not {(d["category"], d["record"]) for d in writes} & left
