"""Scale-out: organizations synced by 1, 2 and 4 Dramatiq workers, and change-to-Autotask latency
(``python -m benchmarks bench_workers``).

Each round: a fresh emulated tenant (its own process) answering every call after 100 ms, a fresh
database (PostgreSQL when reachable — a scratch database per round —, else SQLite), ``ORGS``
organizations of one customer each (one contract, two subscriptions) with their Autotask connector, and
``N`` ``psabridge worker --threads 1`` processes on Redis. All first syncs are queued at once; the wall
time runs from the first enqueue to the last job finished. Every organization uses the same emulated
tenant and integration code, so the Autotask limits are shared by all workers (3 requests in flight per
endpoint, through Redis), as for one MSP's many customers — the strictest case.

Change-to-Autotask latency: with the last round's workers still running, one seat change in each of
``CHANGES`` organizations (a second apart) goes through the change hook with the default quiet period
(``PSABRIDGE_CHANGE_SYNC_DELAY_SECONDS`` = 10 s); latency = the change's commit to its sync job's end
(the adjustment is in Autotask then).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.support import Emulator, emulator_process, record_section, total_calls
from psabridge.autotask import AutotaskClient, AutotaskCredentials
from psabridge.config import Settings
from psabridge.connectors import service as connectors
from psabridge.connectors.models import Connector, ConnectorStatus
from psabridge.db import make_engine, make_sessionmaker, migrate
from psabridge.hub import models as hub
from psabridge.hub.orgs import create_organization
from psabridge.jobs import service as jobs
from psabridge.jobs.changes import install_change_hook
from psabridge.jobs.models import Job
from psabridge.sync.tenant_defaults import recommended_settings

ORGS = int(os.environ.get("PSABRIDGE_BENCH_WORKERS_ORGS", "50"))
WORKERS = tuple(int(n) for n in os.environ.get("PSABRIDGE_BENCH_WORKERS", "1,2,4").split(","))
LATENCY_MS = int(os.environ.get("PSABRIDGE_BENCH_WORKERS_LATENCY_MS", "100"))
CHANGES = int(os.environ.get("PSABRIDGE_BENCH_WORKERS_CHANGES", "10"))
QUIET_SECONDS = float(os.environ.get("PSABRIDGE_BENCH_WORKERS_QUIET_SECONDS", "10"))
REDIS_URL = os.environ.get("PSABRIDGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PG_ADMIN = os.environ.get("PSABRIDGE_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PSABRIDGE = str(Path(sys.executable).with_name("psabridge"))


@contextmanager
def _database(tmp: str, tag: str) -> Iterator[tuple[str, str]]:
    """A scratch PostgreSQL database (dropped afterwards), or a SQLite file when PostgreSQL is not there."""
    name = f"psab_bench_workers_{os.getpid()}_{tag}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        yield f"sqlite:///{tmp}/bench-{tag}.db", "SQLite"
        return
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", "PostgreSQL"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _organizations(
    factory: sessionmaker[Session], emu: Emulator, settings: Settings, count: int
) -> list[int]:
    """``count`` organizations of one customer each (unique names), each with a set-up connector."""
    with AutotaskClient(AutotaskCredentials(*emu.credentials), zone_url=emu.zone_url) as setup:
        chosen = recommended_settings(setup).model_dump(mode="json")
    ids: list[int] = []
    template: Connector | None = None
    with factory() as s:
        for n in range(count):
            org = create_organization(s, f"Bench Workers {n}", f"bw{n}")
            account = hub.Account(
                organization_id=org.id, external_id=f"a{n}", name=f"W{n} Customer", phone="+1 555 0100"
            )
            s.add(account)
            s.flush()
            contact = hub.Contact(
                organization_id=org.id,
                external_id=f"c{n}",
                account_id=account.id,
                first_name="Ada",
                last_name=f"W{n}",
                email=f"ada@w{n}.example",
            )
            s.add(contact)
            s.flush()
            account.primary_contact_id = contact.id
            contract = hub.BillingContract(
                organization_id=org.id,
                external_id=f"k{n}",
                account_id=account.id,
                name=f"W{n} Monthly",
                billing_frequency="monthly",
                start_date=date(2026, 1, 1),
            )
            s.add(contract)
            for k, label in enumerate(("Microsoft 365 E3", "Backup")):
                product = hub.Product(
                    organization_id=org.id,
                    external_id=f"p{n}-{k}",
                    name=f"W{n} {label}",
                    kind="service",
                    manufacturer="Microsoft",
                    unit_price=Decimal("22.00"),
                    unit_cost=Decimal("18.00"),
                    sku=f"SKU-{n}-{k}",
                )
                s.add(product)
                s.flush()
                s.add(
                    hub.Subscription(
                        organization_id=org.id,
                        external_id=f"s{n}-{k}",
                        billing_contract_id=contract.id,
                        product_id=product.id,
                        quantity=5 + k,
                        unit_price=Decimal("22.00"),
                        start_date=date(2026, 1, 1),
                    )
                )
            s.commit()
            if template is None:
                template = connectors.create_or_update_connector(
                    s,
                    org.id,
                    username=emu.credentials.username,
                    secret=emu.credentials.secret,
                    integration_code=emu.credentials.integration_code,
                    app_settings=settings,
                )
                connector = template
            else:
                columns = {
                    c.key: getattr(template, c.key)
                    for c in Connector.__table__.columns
                    if c.key not in ("id", "organization_id", "created_at", "updated_at")
                }
                connector = Connector(**columns, organization_id=org.id)
                s.add(connector)
            connector.settings_json = chosen
            connector.status = ConnectorStatus.SET_UP.value
            s.commit()
            ids.append(org.id)
    return ids


def _env(settings: Settings) -> dict[str, str]:
    out = dict(os.environ)
    out.update(
        {
            "PSABRIDGE_AUTOTASK_ZONE_URL": settings.autotask_zone_url,
            "PSABRIDGE_DATABASE_URL": settings.resolved_database_url(),
            "PSABRIDGE_DATA_DIR": str(settings.data_dir),
            "PSABRIDGE_BROKER_URL": settings.broker_url,
            "PSABRIDGE_REDIS_PREFIX": settings.redis_prefix,
            "PSABRIDGE_CHANGE_SYNC_DELAY_SECONDS": "0",
            "PSABRIDGE_LOG_LEVEL": "WARNING",
        }
    )
    return out


@contextmanager
def _workers(settings: Settings, count: int, tmp: str) -> Iterator[None]:
    procs = [
        subprocess.Popen(
            [PSABRIDGE, "worker", "--threads", "1"],
            env=_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=(Path(tmp) / f"worker-{count}-{n}.log").open("wb"),
        )
        for n in range(count)
    ]
    client = redis.Redis.from_url(settings.broker_url)
    try:
        deadline = time.monotonic() + 60
        # each worker's consumer registers a heartbeat in Redis once it is ready
        while len(client.zrange(f"{settings.redis_prefix}-dramatiq:__heartbeats__", 0, -1)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.1)
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        client.close()


def _wait(factory: sessionmaker[Session], ids: list[int], timeout: float = 1800) -> list[Job]:
    deadline = time.monotonic() + timeout
    while True:
        with factory() as s:
            rows = list(s.scalars(select(Job).where(Job.id.in_(ids))))
            s.expunge_all()
        if all(j.state in jobs.FINISHED for j in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _cleanup_redis(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for pattern in (f"{prefix}:*", f"{prefix}-dramatiq*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    client.close()


def _round(workers: int, tmp: str, *, changes: bool) -> dict[str, Any]:
    prefix = f"psabbench-{uuid.uuid4().hex[:8]}"
    out: dict[str, Any] = {"workers": workers}
    with emulator_process() as emu, _database(tmp, f"w{workers}") as (url, backend):
        migrate(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        settings = Settings(
            data_dir=Path(tmp),
            database_url=url,
            autotask_zone_url=emu.zone_url,
            broker_url=REDIS_URL,
            redis_prefix=prefix,
        )
        orgs = _organizations(factory, emu, settings, ORGS)
        emu.control.set_latency(LATENCY_MS)
        emu.control.clear_calls()
        try:
            with _workers(settings, workers, tmp):
                started = time.monotonic()
                ids = [jobs.enqueue(factory, settings, org, "sync") for org in orgs]
                done = _wait(factory, ids)
                out["wall"] = time.monotonic() - started
                out["succeeded"] = sum(1 for j in done if j.state == "succeeded")
                out["calls"] = total_calls(emu.control.calls())
                out["backend"] = backend
                if changes:
                    out.update(_change_latency(factory, settings, orgs[:CHANGES]))
        finally:
            engine.dispose()
            _cleanup_redis(prefix)
    return out


def _change_latency(factory: sessionmaker[Session], settings: Settings, orgs: list[int]) -> dict[str, Any]:
    watched = make_sessionmaker(factory.kw["bind"])
    quiet = settings.model_copy(update={"change_sync_delay_seconds": QUIET_SECONDS})
    install_change_hook(watched, quiet)
    committed: dict[int, datetime] = {}
    for org in orgs:
        with watched() as s:
            sub = s.scalars(select(hub.Subscription).where(hub.Subscription.organization_id == org)).first()
            assert sub is not None
            s.add(
                hub.LicenseChangeLog(
                    organization_id=org,
                    external_id=f"chg-{org}",
                    subscription_id=sub.id,
                    effective_date=date(2026, 4, 1),
                    quantity_before=sub.quantity,
                    quantity_after=sub.quantity + 3,
                )
            )
            sub.quantity += 3
            s.commit()
            committed[org] = datetime.now(UTC)
        time.sleep(1.0)
    deadline = time.monotonic() + 600
    while True:
        with factory() as s:
            rows = list(s.scalars(select(Job).where(Job.trigger == "change")))
            s.expunge_all()
        if len(rows) >= len(orgs) and all(j.state in jobs.FINISHED for j in rows):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("change syncs did not finish")
        time.sleep(0.2)
    latencies = sorted(
        (
            (j.finished_at if j.finished_at.tzinfo else j.finished_at.replace(tzinfo=UTC))
            - committed[j.organization_id]
        ).total_seconds()
        for j in rows
        if j.finished_at is not None
    )
    q = statistics.quantiles(latencies, n=20, method="inclusive")
    return {
        "change_jobs": len(rows),
        "change_ok": sum(1 for j in rows if j.state == "succeeded"),
        "p50": statistics.median(latencies),
        "p95": q[18],
    }


def run() -> dict[str, float]:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        rounds = [_round(n, tmp, changes=(n == WORKERS[-1])) for n in WORKERS]
    base = rounds[0]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows = "".join(
        f"| {r['workers']} | {r['succeeded']}/{ORGS} | {r['calls']:,} | {r['wall']:.1f} s | {ORGS / r['wall']:.2f} "
        f"| **{base['wall'] / r['wall']:.2f}x** |\n"
        for r in rounds
    )
    last = rounds[-1]
    ratio = base["wall"] / last["wall"]
    text_ = (
        "## Scale-out on Dramatiq workers (benchmarks/bench_workers.py)\n\n"
        f"Measured {stamp} UTC in one run on this machine ({os.cpu_count()} CPU cores; 1-minute load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after: other processes shared the cores). {ORGS} organizations "
        f"(one customer, one contract, two subscriptions each) synced for the first time by N `psabridge worker "
        f"--threads 1` processes on Redis, {base['backend']}, the emulator answering every call after "
        f"{LATENCY_MS} ms; all organizations share one emulated tenant and integration code, so the Autotask "
        "limits (3 requests in flight per endpoint, the hourly budget) are shared across the workers through "
        "Redis.\n\n"
        "| workers | synced | API calls | wall | organizations/s | speed-up vs 1 worker |\n|---|---|---|---|---|---|\n"
        f"{rows}\n"
        f"{WORKERS[-1]} workers ÷ 1: **{ratio:.2f}x** (the issue's target: ≥ 3.5x).\n\n"
        f"Change-to-Autotask latency ({last['change_jobs']} seat changes in {CHANGES} organizations, a second apart, "
        f"{WORKERS[-1]} workers, quiet period {QUIET_SECONDS:.0f} s; commit of the change to the end of its sync job): "
        f"p50 **{last['p50']:.1f} s**, p95 **{last['p95']:.1f} s** ({last['change_ok']} succeeded).\n"
    )
    record_section("bench_workers", text_)
    print(text_)
    return {"ratio": ratio, "p50": last["p50"], "p95": last["p95"]}


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        run()
