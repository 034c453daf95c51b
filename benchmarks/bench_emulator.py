"""Emulator throughput: requests per second over loopback (query, get, create), recorded in
docs/benchmarks.md. The emulator runs in a background thread of this process (as in the test suite)
with its hourly limit lifted so the Autotask-like slow-down does not hide the server's own speed."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx

from benchmarks.support import record_section
from psabridge.emulator.app import create_emulator_app
from psabridge.emulator.limits import LimitSettings
from psabridge.emulator.seed import DEMO_INTEGRATION_CODE, DEMO_SECRET, DEMO_USERNAME
from psabridge.emulator.testing import running_emulator

SEED_COMPANIES = 2_000
REQUESTS = 600
WORKERS = 3  # Autotask's concurrency limit per integration code and endpoint


def _rate(fn: Callable[[httpx.Client, int], None], clients: list[httpx.Client]) -> float:
    """Requests per second for ``REQUESTS`` calls spread over ``len(clients)`` threads."""
    per_worker = REQUESTS // len(clients)
    barrier = threading.Barrier(len(clients))

    def work(client: httpx.Client) -> None:
        barrier.wait()
        for i in range(per_worker):
            fn(client, i)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(work, clients))
    return per_worker * len(clients) / (time.perf_counter() - start)


def _asgi_rate(app: Any, method: str, path: str, body: bytes, n: int = 1_000) -> float:
    """Requests per second of the app alone (ASGI calls, no sockets, no HTTP client): the server's
    own capacity, much less sensitive to the machine being shared than the loopback figures."""
    headers = [
        (b"username", DEMO_USERNAME.encode()),
        (b"secret", DEMO_SECRET.encode()),
        (b"apiintegrationcode", DEMO_INTEGRATION_CODE.encode()),
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1),
    }

    async def one() -> None:
        done = False

        async def receive() -> dict[str, Any]:
            nonlocal done
            if done:
                return {"type": "http.disconnect"}
            done = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] != 200:
                raise RuntimeError(f"status {message['status']}")

        await app(dict(scope), receive, send)

    async def loop() -> float:
        start = time.perf_counter()
        for _ in range(n):
            await one()
        return n / (time.perf_counter() - start)

    return asyncio.run(loop())


def run() -> dict[str, float]:
    limits = LimitSettings(hourly_limit=10**9, max_concurrent=WORKERS)
    with running_emulator(limits=limits) as emu:
        for i in range(SEED_COMPANIES):
            emu.tenant.create(
                "Companies",
                {
                    "companyName": f"Bench {i:05d}",
                    "companyType": 1,
                    "phone": "1",
                    "ownerResourceID": 29682885,
                },
            )
        base = f"{emu.base_url}/ATServicesRest/V1.0"
        clients = [httpx.Client(base_url=base, headers=emu.headers(), timeout=30) for _ in range(WORKERS)]

        def check(response: httpx.Response) -> None:
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code} {response.text}")

        def query(client: httpx.Client, i: int) -> None:
            body = {
                "filter": [{"op": "eq", "field": "companyName", "value": f"Bench {i % SEED_COMPANIES:05d}"}]
            }
            check(client.post("/Companies/query", json=body))

        def get(client: httpx.Client, i: int) -> None:
            check(client.get(f"/Companies/{1001 + i % SEED_COMPANIES}"))

        def create(client: httpx.Client, i: int) -> None:
            body = {"companyName": f"New {i}", "companyType": 1, "phone": "1", "ownerResourceID": 29682885}
            check(client.post("/Companies", json=body))

        results: dict[str, float] = {}
        for name, fn in (("query", query), ("get", get), ("create", create)):
            _rate(fn, clients[:1])  # warm-up
            results[f"{name}_1"] = _rate(fn, clients[:1])
            results[f"{name}_{WORKERS}"] = _rate(fn, clients)
        for c in clients:
            c.close()
    app = create_emulator_app(limits=limits)
    for i in range(SEED_COMPANIES):
        app.state.emulator.tenant.create(
            "Companies",
            {"companyName": f"Bench {i:05d}", "companyType": 1, "phone": "1", "ownerResourceID": 29682885},
        )
    api = "/ATServicesRest/V1.0"
    scan = {"filter": [{"op": "contains", "field": "companyName", "value": "01234"}]}
    lookup = {"filter": [{"op": "eq", "field": "companyName", "value": "Bench 01234"}]}
    new = {"companyName": "New", "companyType": 1, "phone": "1", "ownerResourceID": 29682885}
    results["query_asgi"] = _asgi_rate(app, "POST", f"{api}/Companies/query", json.dumps(lookup).encode())
    results["scan_asgi"] = _asgi_rate(app, "POST", f"{api}/Companies/query", json.dumps(scan).encode(), 200)
    results["get_asgi"] = _asgi_rate(app, "GET", f"{api}/Companies/1500", b"")
    results["create_asgi"] = _asgi_rate(app, "POST", f"{api}/Companies", json.dumps(new).encode())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()[0]
    rows = "\n".join(
        f"| {stamp} | {name} | {results[f'{name}_asgi']:.0f} | {results[f'{name}_1']:.0f} | "
        f"{results[f'{name}_{WORKERS}']:.0f} |"
        for name in ("query", "get", "create")
    )
    record_section(
        "bench_emulator",
        "## Autotask emulator throughput (benchmarks/bench_emulator.py)\n\n"
        f"Requests per second; {SEED_COMPANIES:,} extra companies seeded. query = POST Companies/query with an "
        "`eq` filter on companyName (hash-indexed lookup), get = GET Companies/{id}, create = POST Companies "
        "with full validation. *app* = the ASGI app called directly (server cost only); *loopback* = over "
        f"HTTP with httpx from the same process, {REQUESTS} requests, 1 client and {WORKERS} concurrent "
        "clients (Autotask's per-endpoint limit). A full-scan query (`contains`) runs at "
        f"{results['scan_asgi']:.0f}/s in-app. Shared 2-core machine, load average {load:.1f} while measured "
        "(the loopback figures mostly measure that contention).\n\n"
        f"| measured (UTC) | operation | req/s, app | req/s, loopback 1 client | req/s, loopback {WORKERS} clients |\n"
        f"|---|---|---|---|---|\n{rows}\n",
    )
    for key, value in results.items():
        print(f"{key}: {value:.0f} req/s")
    return results


if __name__ == "__main__":
    run()
