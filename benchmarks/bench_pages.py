"""Page latency at 100,000 subscriptions: every PSA Integration tab, the Billing Hub lists (pages and
/api/v1), and a run page of a run with ~100,000 results.

The organization is built once per size and cached (see ``benchmarks.pages_data``); the application runs
as ``psabridge serve`` in its own process (as in production: the client does not share its interpreter)
and each page is fetched ``PSABRIDGE_BENCH_PAGES_REPEAT`` times (default 20) over HTTP, signed in as an
admin. Pages are the first page, a deep page (the middle of the list) and a status filter, so offset
paging's cost at depth is measured too. Prints p50/p95 per page and the worst p95, and records them in
docs/benchmarks.md (section ``bench_pages``).

Environment: ``PSABRIDGE_BENCH_PAGES_SUBSCRIPTIONS`` (default 100000); ``PSABRIDGE_BENCH_PAGES_BACKENDS``
(default ``sqlite,postgresql``): PostgreSQL at ``PSABRIDGE_PG_ADMIN`` (default the local server's ``test``
database), the organization built once into a template database and copied per run.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from benchmarks.pages_data import ADMIN_EMAIL, ADMIN_PASSWORD, cached_postgres, cached_sqlite
from benchmarks.support import record_section
from psabridge.db import make_engine
from psabridge.hub import models as hub
from psabridge.sync.models import RecordResult, SyncRun

TARGET_MS = 300.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(url: str, data_dir: Path) -> Iterator[str]:
    """``psabridge serve`` on a loopback port against ``url``; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "PSABRIDGE_DATABASE_URL": url, "PSABRIDGE_DATA_DIR": str(data_dir)}
    exe = str(Path(sys.executable).with_name("psabridge"))
    proc = subprocess.Popen(
        [exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("psabridge serve did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


def _signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    csrf = re.compile(r'name="csrf_token" value="([^"]+)"')
    token = csrf.search(client.get("/login").text)
    assert token
    response = client.post(
        "/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.text
    return client


def _pages(url: str) -> list[str]:
    """The URLs timed: each list's first page, its middle page and a filter."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            run_id = conn.scalar(select(func.max(SyncRun.id)))
            results = conn.scalar(select(func.count()).where(RecordResult.run_id == run_id)) or 0
            accounts = conn.scalar(select(func.count(hub.Account.id))) or 0
            subs = conn.scalar(select(func.count(hub.Subscription.id))) or 0
            logs = conn.scalar(select(func.count(hub.LicenseChangeLog.id))) or 0
    finally:
        engine.dispose()
    mid = {
        "customers": max(1, accounts * 2 // 50 // 2),
        "agreements": max(1, accounts // 50 // 2),
        "services": max(1, subs // 50 // 2),
        "changes": max(1, logs // 50 // 2),
    }
    out = ["/psa-integration/products", "/psa-integration/products?status=synced"]
    for tab, page in mid.items():
        out += [
            f"/psa-integration/{tab}",
            f"/psa-integration/{tab}?page={page}",
            f"/psa-integration/{tab}?status=needs_link",
        ]
    out += ["/psa-integration/customers?row=account:" + str(max(1, accounts // 2))]
    out += [
        "/billing/accounts",
        f"/billing/accounts?page={max(1, accounts // 25 // 2)}",
        "/billing/contracts",
        f"/billing/contracts?page={max(1, accounts // 25 // 2)}",
    ]
    for resource, total in (
        ("accounts", accounts),
        ("contacts", accounts * 2),
        ("products", 15),
        ("billing-contracts", accounts),
        ("subscriptions", subs),
        ("license-change-logs", logs),
    ):
        out += [f"/api/v1/{resource}?limit=50", f"/api/v1/{resource}?limit=50&offset={total // 2}"]
    out += [
        "/api/v1/accounts?limit=50&q=north",
        "/api/v1/subscriptions?limit=50&status=active",
        "/api/v1/license-change-logs?limit=50&effective_from=2025-06-01",
    ]
    pages = max(1, results // 50)
    out += [
        f"/psa-integration/runs/{run_id}",
        f"/psa-integration/runs/{run_id}?page={pages // 2}",
        f"/psa-integration/runs/{run_id}?status=needs_link",
        f"/psa-integration/runs/{run_id}?status=written&page={pages // 3}",
        f"/api/v1/sync/runs/{run_id}",
        f"/api/v1/sync/runs/{run_id}?offset={results // 2}&limit=100",
        "/psa-integration/runs",
    ]
    return out


AFTER_CHANGE_TABS = ("products", "customers", "agreements", "services", "changes")


def measure_after_change(base: str, url: str, repeat: int) -> list[tuple[str, float, float]]:
    """(tab, p50 ms, max ms) of each PSA Integration tab's first view after a hub change: before each
    fetch one subscription's ``updated_at`` moves, so the tab's cached counts are recomputed (what a
    person sees right after an import, an API change or a link)."""
    engine = make_engine(url)
    out = []
    client = _signed_in(base)
    try:
        with closing(client), engine.connect() as conn:
            sub_id = conn.scalar(select(func.min(hub.Subscription.id)))
            for tab in AFTER_CHANGE_TABS:
                times = []
                for _ in range(repeat):
                    conn.execute(
                        update(hub.Subscription)
                        .where(hub.Subscription.id == sub_id)
                        .values(updated_at=datetime.now(UTC))
                    )
                    conn.commit()
                    t0 = time.perf_counter()
                    response = client.get(f"/psa-integration/{tab}")
                    times.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, (tab, response.status_code)
                out.append((f"/psa-integration/{tab}", statistics.median(times), max(times)))
                print(
                    f"  after a change {tab:<20} p50 {out[-1][1]:7.1f} ms  max {out[-1][2]:7.1f} ms",
                    flush=True,
                )
    finally:
        engine.dispose()
    return out


def measure(base: str, urls: list[str], repeat: int) -> list[tuple[str, float, float]]:
    """(url, p50 ms, p95 ms) of each page, fetched ``repeat`` times after one warm-up."""
    out = []
    client = _signed_in(base)
    with closing(client):
        for url in urls:
            first = client.get(url)
            assert first.status_code == 200, (url, first.status_code, first.text[:300])
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            times.sort()
            p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
            out.append((url, statistics.median(times), p95))
            print(f"  {url:<75} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms", flush=True)
    return out


PG_ADMIN = os.environ.get("PSABRIDGE_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def _database(backend: str, size: int, tmp: Path) -> Iterator[str]:
    if backend == "postgresql":
        with cached_postgres(size, PG_ADMIN) as url:
            yield url
        return
    cached_sqlite(size, tmp / "pages.db")
    yield f"sqlite:///{tmp / 'pages.db'}"


def run() -> None:
    size = int(os.environ.get("PSABRIDGE_BENCH_PAGES_SUBSCRIPTIONS", "100000"))
    repeat = int(os.environ.get("PSABRIDGE_BENCH_PAGES_REPEAT", "20"))
    backends = os.environ.get("PSABRIDGE_BENCH_PAGES_BACKENDS", "sqlite,postgresql").split(",")
    for backend in (b.strip().lower() for b in backends if b.strip()):
        _run_on(backend, size, repeat)


def _run_on(backend_key: str, size: int, repeat: int) -> None:
    backend = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend_key]
    with tempfile.TemporaryDirectory(prefix="psab-bench-pages-") as tmp:
        t0 = time.monotonic()
        with _database(backend_key, size, Path(tmp)) as url:
            print(
                f"organization of {size:,} subscriptions ready in {time.monotonic() - t0:.0f} s ({backend})"
            )
            urls = _pages(url)
            with serve(url, Path(tmp)) as base:
                results = measure(base, urls, repeat)
                after_change = measure_after_change(base, url, max(3, repeat // 4))
    worst = max(results, key=lambda r: r[2])
    ok = worst[2] <= TARGET_MS
    print(f"max p95 {worst[2]:.1f} ms ({worst[0]}): {'within' if ok else 'OVER'} {TARGET_MS:.0f} ms")
    lines = [
        f"## Pages at {size:,} subscriptions ({backend})",
        "",
        f"`python -m benchmarks bench_pages`: each page fetched {repeat} times over HTTP from `psabridge serve`"
        " (its own process), signed in as an admin; first page, a middle page (offset paging) and a"
        " filter of each list; the run has one result per synced record (~"
        f"{size:,} and more).",
        "",
        "| page | p50 ms | p95 ms |",
        "|---|---:|---:|",
        *(f"| `{u}` | {p50:.1f} | {p95:.1f} |" for u, p50, p95 in results),
        "",
        f"**Max p95: {worst[2]:.1f} ms** (`{worst[0]}`), target ≤ {TARGET_MS:.0f} ms.",
        "",
        "First view of each tab right after a hub change (the tab's counts per status recomputed: one "
        f"subscription's `updated_at` moved before each of {max(3, repeat // 4)} fetches):",
        "",
        "| tab | p50 ms | max ms |",
        "|---|---:|---:|",
        *(f"| `{u}` | {p50:.1f} | {worst_ms:.1f} |" for u, p50, worst_ms in after_change),
    ]
    record_section(f"bench_pages_{backend.lower()}", "\n".join(lines))
