"""Crash safety: ``psabridge sync`` killed (SIGKILL) at many points, with lost responses and server errors
injected, and re-run until done, converges to exactly the expected Autotask state: no duplicate company,
contract, service, adjustment or charge, and no lost change."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.sync.support import Hub, SyncEnv, build_fixture, count_calls, signature

PSABRIDGE = str(Path(sys.executable).with_name("psabridge"))


def _env(env: SyncEnv) -> dict[str, str]:
    out = dict(os.environ)
    out["PSABRIDGE_AUTOTASK_ZONE_URL"] = env.emu.zone_url
    out["PSABRIDGE_DATABASE_URL"] = env.app_settings.resolved_database_url()
    out["PSABRIDGE_DATA_DIR"] = str(env.app_settings.data_dir)
    out["PSABRIDGE_SYNC_BATCH_SUBSCRIPTIONS"] = str(env.app_settings.sync_batch_subscriptions)
    return out


def _sync_killed_after(env: SyncEnv, writes: int, timeout: float = 60.0) -> bool:
    """Start ``psabridge sync``; SIGKILL it once the emulator has received ``writes`` more write requests
    (the last one still in flight). Returns False if the run finished before that."""
    start = count_calls(env.emu.control.calls(), writes_only=True)
    proc = subprocess.Popen(
        [PSABRIDGE, "sync", "--org", "acme", "--json"],
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


def _sync_to_completion(env: SyncEnv) -> dict[str, object]:
    done = subprocess.run(
        [PSABRIDGE, "sync", "--org", "acme", "--json"],
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 2), done.stderr[-2000:]  # 2: partial (some records failed)
    data: dict[str, object] = json.loads(done.stdout)
    return data


@pytest.mark.slow
@pytest.mark.parametrize("batch", [None, 1], ids=["one-batch", "batch-per-customer"])
def test_killed_at_many_points_converges_without_duplicates(
    env: SyncEnv, hub: Hub, batch: int | None
) -> None:
    """Also with a batch per customer: a kill in a later batch leaves the earlier batches' writes
    reconciled, and the next run picks up where the killed one stopped."""
    if batch is not None:
        env.app_settings = env.app_settings.model_copy(update={"sync_batch_subscriptions": batch})
    fx = build_fixture(hub)
    env.emu.control.set_latency(40)  # every request is in flight long enough to be cut
    kills = 0
    for after in (1, 1, 2, 2, 3, 3, 4, 5):
        kills += _sync_killed_after(env, after)
    assert kills >= 5  # the runs really were interrupted mid-way
    env.emu.control.set_latency(0)
    final = _sync_to_completion(env)
    assert final["status"] == "succeeded", final
    assert signature(env) == fx.expected(env.org_id)
    again = _sync_to_completion(env)
    assert again["planned_operations"] == 0
    with env.factory() as s:
        from sqlalchemy import select

        from psabridge.sync.models import SyncRun

        statuses = [r.status for r in s.scalars(select(SyncRun).where(SyncRun.mode == "apply"))]
    assert statuses.count("interrupted") >= 5 and "running" not in statuses


@pytest.mark.slow
def test_kills_with_lost_responses_and_server_errors(env: SyncEnv, hub: Hub) -> None:
    fx = build_fixture(hub)
    control = env.emu.control
    control.add_fault(
        action="drop_after_commit",
        method="POST",
        entity="^(Contracts|ContractServiceAdjustments)$",
        path=r"[^y]$",
        count=2,
    )
    control.add_fault(
        action="500", method="POST", entity="^(Contacts|ContractCharges)$", path=r"[^y]$", count=1
    )
    control.add_fault(action="429", method="POST", entity="^ContractServices$", path=r"[^y]$", count=2)
    control.set_latency(30)
    for after in (2, 3, 3):
        _sync_killed_after(env, after)
    control.set_latency(0)
    for _ in range(3):  # lost responses and 500s leave records in error; each run repairs what it can
        result = _sync_to_completion(env)
        if result["status"] == "succeeded" and result["planned_operations"] == 0:
            break
    assert signature(env) == fx.expected(env.org_id)
    assert _sync_to_completion(env)["planned_operations"] == 0


def _sync_killed_when(env: SyncEnv, condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Start ``psabridge sync``; SIGKILL it as soon as ``condition()`` (read from the emulator) holds."""
    proc = subprocess.Popen(
        [PSABRIDGE, "sync", "--org", "acme", "--json"],
        env=_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if condition():
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
def test_killed_between_adding_a_repeat_service_and_identifying_it(env: SyncEnv, hub: Hub) -> None:
    """Allow Duplicated Services = Yes: the process is killed right after the adjustment added the repeat
    service, before it was identified and linked. The next run finds that service (the one of this
    service, starting on that date with those seats, linked to no hub record) and adds no second one."""
    from datetime import date

    from psabridge.hub import models as hub_models

    env.set_settings(allow_duplicated_services=True)
    fx = build_fixture(hub)
    with env.factory() as s:
        contract = s.get(hub_models.BillingContract, fx.ids["contract"])
        product = s.get(hub_models.Product, fx.ids["product"])
        assert contract is not None and product is not None
        s.expunge_all()
    repeat = hub.subscription(contract, product, quantity=3, start=date(2026, 2, 1))
    expected = fx.expected(env.org_id)
    key = f"PSB{env.org_id}-U{repeat.id}"
    expected["ContractServices"] = sorted([*expected["ContractServices"], key])
    expected["adjustments"] = sorted([*expected["adjustments"], (key, "2026-02-01", 3)])
    prefix = f"PSB{env.org_id}-"

    def unkeyed() -> list[dict[str, object]]:
        state = env.emu.control.state()["entities"]
        ours = {c["id"] for c in state["Contracts"] if str(c.get("contractNumber") or "").startswith(prefix)}
        return [
            s
            for s in state["ContractServices"]
            if s["contractID"] in ours and not s.get("internalDescription")
        ]

    # the lookup after the repeat's adjustment is slow: the kill lands before it is answered
    env.emu.control.add_fault(
        action="latency", ms=3000, method="POST", entity="^ContractServices$", path=r"query$", count=None
    )
    assert _sync_killed_when(env, lambda: bool(unkeyed()))
    assert len(unkeyed()) == 1
    env.emu.control.clear_faults()
    final = _sync_to_completion(env)
    assert final["status"] == "succeeded", final
    assert len(unkeyed()) == 1  # the same one, now linked: no second repeat was added
    assert signature(env) == expected
    assert _sync_to_completion(env)["planned_operations"] == 0
