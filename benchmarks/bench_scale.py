"""Sync at any size (``python -m benchmarks bench_scale``): throughput and memory as organizations grow.

* First sync of sample data at 500, 2,000 and 10,000 customers (``PSABRIDGE_BENCH_SCALE_CUSTOMERS``)
  into a fresh emulator tenant at zero latency, SQLite: API calls per second of wall time (target: flat
  within 20% of the smallest size) and the sync process's peak memory (target <= 300 MB);
* a plan (dry run) of an organization of 100,000 subscriptions (``PSABRIDGE_BENCH_SCALE_SUBSCRIPTIONS``)
  nothing of which is in Autotask yet: its peak memory (target <= 300 MB) and time; then the first sync
  of that organization (about 425,000 calls; ``PSABRIDGE_BENCH_SCALE_BIG_SYNC=0`` skips it): its peak
  memory (target <= 300 MB), calls/s and what every record ended as.

Each sync and plan runs in a fresh process (spawned), so its peak resident memory (``ru_maxrss``) is its
own, not the data generator's; the emulator runs in its own process too. Results go to
docs/benchmarks.md between the bench_scale markers.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.support import (
    connect_autotask,
    emulator_process,
    new_organization,
    record_section,
    total_calls,
)

SIZES = tuple(int(n) for n in os.environ.get("PSABRIDGE_BENCH_SCALE_CUSTOMERS", "500,2000,10000").split(","))
BIG_SUBSCRIPTIONS = int(os.environ.get("PSABRIDGE_BENCH_SCALE_SUBSCRIPTIONS", "100000"))
BIG_SYNC = os.environ.get("PSABRIDGE_BENCH_SCALE_BIG_SYNC", "1") != "0"
SUBSCRIPTIONS_PER_CUSTOMER = 4.6  # about what the sample data gives (measured: 92,342 at 20,000 customers)
FLAT = 0.20
MEMORY_MB = 300


def _in_fresh_process(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a new interpreter, so its peak memory is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(url: str, customers: int) -> tuple[int, int, int]:
    """Child: an organization of sample data; (organization id, subscriptions, seconds)."""
    from psabridge.db import make_engine, make_sessionmaker, migrate
    from psabridge.hub import models as hub

    migrate(url)
    factory = make_sessionmaker(make_engine(url))
    started = time.perf_counter()
    org_id = new_organization(factory, customers=customers)
    with factory() as s:
        subs = s.scalar(select(func.count()).select_from(hub.Subscription)) or 0
    return org_id, subs, round(time.perf_counter() - started)


def _settings(url: str, data_dir: str, zone_url: str) -> Any:
    from psabridge.config import Settings

    return Settings(data_dir=Path(data_dir), database_url=url, autotask_zone_url=zone_url)


def _sync(url: str, data_dir: str, zone_url: str, org_id: int) -> dict[str, Any]:
    """Child: one sync; its status, wall time, planned operations and peak memory."""
    from psabridge.db import make_engine, make_sessionmaker
    from psabridge.sync import service
    from psabridge.sync.models import RecordResult

    factory = make_sessionmaker(make_engine(url))
    started, cpu = time.perf_counter(), time.process_time()
    run = service.run_sync(factory, org_id, app_settings=_settings(url, data_dir, zone_url))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    with factory() as s:  # what every record ended as (after the measurement)
        statuses = dict(
            s.execute(
                select(RecordResult.status, func.count())
                .where(RecordResult.run_id == run.id)
                .group_by(RecordResult.status)
            ).all()
        )
    return {
        "status": run.status,
        "error": run.error,
        "wall": wall,
        "cpu": cpu,
        "operations": run.planned_operations,
        "peak_mb": _peak_mb(),
        "records": ", ".join(f"{n:,} {status}" for status, n in sorted(statuses.items())),
    }


def _plan(url: str, data_dir: str, zone_url: str, org_id: int) -> dict[str, Any]:
    """Child: one plan, keeping only its totals (as the CLI and the screens do at this size)."""
    from psabridge.db import make_engine, make_sessionmaker
    from psabridge.sync import service

    factory = make_sessionmaker(make_engine(url))
    started = time.perf_counter()
    result = service.make_plan(
        factory, org_id, app_settings=_settings(url, data_dir, zone_url), keep_operations=False
    )
    return {
        "wall": time.perf_counter() - started,
        "operations": result.totals.operations,
        "read_calls": result.plan.read_calls,
        "peak_mb": _peak_mb(),
    }


def _first_sync(customers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, emulator_process() as emu:
        url = f"sqlite:///{tmp}/scale.db"
        org_id, subs, generated = _in_fresh_process(_generate, url, customers)
        from psabridge.db import make_engine, make_sessionmaker

        engine = make_engine(url)
        connect_autotask(make_sessionmaker(engine), org_id, emu, _settings(url, tmp, emu.zone_url))
        engine.dispose()
        emu.control.clear_calls()
        result: dict[str, Any] = _in_fresh_process(_sync, url, tmp, emu.zone_url, org_id)
        result.update(customers=customers, subscriptions=subs, generated=generated)
        result["calls"] = total_calls(emu.control.calls())
        result["rate"] = result["calls"] / result["wall"]
        result["cpu_rate"] = result["calls"] / result["cpu"]
        print(
            f"{customers} customers ({subs:,} subscriptions): {result['status']}, {result['calls']:,} calls"
            f" in {result['wall']:.0f} s = {result['rate']:.0f}/s ({result['cpu_rate']:.0f} per CPU-second"
            f" of the sync process), peak {result['peak_mb']:.0f} MB; records: {result['records']}"
            + (f"; error: {result['error']}" if result["error"] else ""),
            flush=True,
        )
        return result


def _big() -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The plan of ``BIG_SUBSCRIPTIONS`` subscriptions, then (``BIG_SYNC``) the first sync of them."""
    customers = math.ceil(BIG_SUBSCRIPTIONS / SUBSCRIPTIONS_PER_CUSTOMER)
    with tempfile.TemporaryDirectory() as tmp, emulator_process() as emu:
        url = f"sqlite:///{tmp}/big.db"
        org_id, subs, generated = _in_fresh_process(_generate, url, customers)
        from psabridge.db import make_engine, make_sessionmaker

        engine = make_engine(url)
        connect_autotask(make_sessionmaker(engine), org_id, emu, _settings(url, tmp, emu.zone_url))
        engine.dispose()
        result: dict[str, Any] = _in_fresh_process(_plan, url, tmp, emu.zone_url, org_id)
        result.update(customers=customers, subscriptions=subs, generated=generated)
        print(
            f"plan of {subs:,} subscriptions: {result['operations']:,} operations in {result['wall']:.0f} s,"
            f" peak {result['peak_mb']:.0f} MB",
            flush=True,
        )
        if not BIG_SYNC:
            return result, None
        emu.control.clear_calls()
        synced: dict[str, Any] = _in_fresh_process(_sync, url, tmp, emu.zone_url, org_id)
        synced["calls"] = total_calls(emu.control.calls())
        synced["customers"] = customers
        synced["rate"] = synced["calls"] / synced["wall"]
        print(
            f"first sync of {subs:,} subscriptions: {synced['status']}, {synced['calls']:,} calls in"
            f" {synced['wall']:.0f} s = {synced['rate']:.0f}/s, peak {synced['peak_mb']:.0f} MB",
            flush=True,
        )
        return result, synced


def run() -> dict[str, Any]:
    syncs = [_first_sync(n) for n in SIZES]
    plan, big_sync = _big()
    base = syncs[0]["rate"]
    spread = max(abs(s["rate"] / base - 1) for s in syncs)
    cpu_base = syncs[0]["cpu_rate"]
    cpu_spread = max(abs(s["cpu_rate"] / cpu_base - 1) for s in syncs)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows = "".join(
        f"| {s['customers']:,} | {s['subscriptions']:,} | {s['operations']:,} | {s['calls']:,} | {s['wall']:.0f} s "
        f"| {s['rate']:.0f} | **{s['rate'] / base:.2f}** | {s['cpu_rate']:.0f} | **{s['cpu_rate'] / cpu_base:.2f}** "
        f"| **{s['peak_mb']:.0f} MB** | {s['status']} |\n"
        for s in syncs
    )
    records = "".join(
        f"| {s['customers']:,} | {s['records']} | {s['error'] or ''} |\n"
        for s in [*syncs, *([big_sync] if big_sync else [])]
    )
    big = (
        f"First sync of those {plan['subscriptions']:,} subscriptions (same database, fresh process): "
        f"{big_sync['status']}, {big_sync['calls']:,} calls in {big_sync['wall']:.0f} s = "
        f"{big_sync['rate']:.0f} calls/s ({big_sync['rate'] / base:.2f}x the smallest size's), peak "
        f"**{big_sync['peak_mb']:.0f} MB** (target <= {MEMORY_MB} MB); records: {big_sync['records']}.\n"
        if big_sync
        else "First sync of those subscriptions: not run (PSABRIDGE_BENCH_SCALE_BIG_SYNC=0).\n"
    )
    record_section(
        "bench_scale",
        "## Sync at any size (benchmarks/bench_scale.py)\n\n"
        f"Measured {stamp} UTC in one run. First sync of sample data (seed 3) into a fresh emulator tenant at "
        "zero latency, SQLite, each sync in a fresh process (peak = its maximum resident memory). Targets: "
        f"calls/s flat within {FLAT:.0%} of the smallest size; peak memory <= {MEMORY_MB} MB.\n\n"
        "| customers | subscriptions | operations | API calls | wall | calls/s | calls/s ÷ smallest "
        "| calls per CPU-second | ÷ smallest | peak memory | run |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"{rows}\n"
        f"Calls/s spread: **{spread:.0%}**; calls per CPU-second of the sync process spread: **{cpu_spread:.0%}** "
        f"(target <= {FLAT:.0%}). The CPU figure is the sync's own work per call, which other load on the "
        "machine does not stretch the way it stretches wall time.\n\n"
        f"Plan (dry run) of {plan['subscriptions']:,} subscriptions ({plan['customers']:,} customers, nothing in "
        f"Autotask yet): {plan['operations']:,} operations, {plan['read_calls']:,} read calls, "
        f"{plan['wall']:.0f} s, peak **{plan['peak_mb']:.0f} MB** (target <= {MEMORY_MB} MB).\n\n"
        + big
        + "\nWhat each first sync's records ended as (the emulator's seeded tenant holds companies of the "
        "same name as some sample customers: those wait for a person to link them, with their records):\n\n"
        "| customers | records | run's error |\n|---|---|---|\n" + records,
    )
    return {
        "spread": spread,
        "cpu_spread": cpu_spread,
        "plan_peak_mb": plan["peak_mb"],
        "sync_peak_mb": max([s["peak_mb"] for s in syncs] + ([big_sync["peak_mb"]] if big_sync else [])),
    }


if __name__ == "__main__":  # pragma: no cover
    run()
