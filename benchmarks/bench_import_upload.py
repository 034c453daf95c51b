"""A 100 MB import through the REST API: peak memory of the server and what it does to other requests.

The server runs as ``psabridge serve`` in its own process (SQLite in a scratch data directory), so its
peak resident memory (``VmHWM``) is the import's alone. While a 100 MB accounts CSV is uploaded
(streamed, raw body), another client asks ``GET /api/v1/organizations/me`` every 100 ms; its latency is
compared with the same request on the idle server. Then an all-bad file of the same size is uploaded:
the answer must stay small (first 100 errors and the total).

Ratios are what is recorded (docs/benchmarks.md), all from one run: peak RSS / file size, latency during
the import / idle latency, error answer size / file size. Target: peak RSS <= 300 MB for 100 MB.
Size: ``PSABRIDGE_BENCH_IMPORT_MB`` (default 100). Run: ``python -m benchmarks bench_import_upload``.
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_import import _machine, _record_section
from psabridge.db import make_engine, make_sessionmaker, migrate
from psabridge.hub.orgs import create_api_token, create_organization

START, END = "<!-- bench_import_upload:start -->", "<!-- bench_import_upload:end -->"
TARGET_MB = 300


def write_accounts(path: Path, megabytes: int, *, bad: bool = False) -> int:
    """An accounts CSV of about ``megabytes`` MB; ``bad`` makes every row fail (an invalid phone)."""
    rows = 0
    limit = megabytes * 1024 * 1024
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["external_id", "name", "phone", "address_line1", "city", "state", "postal_code", "country"]
        )
        while fh.tell() < limit:
            n = rows
            writer.writerow(
                [
                    f"ACC-{n:08d}",
                    f"Customer number {n} Managed IT Services Ltd",
                    "not a phone" if bad else f"+1 206 555 {n % 10000:04d}",
                    f"{n % 9999} Industrial Park Road, Building {n % 40}",
                    "Seattle",
                    "WA",
                    f"98{n % 1000:03d}",
                    "United States",
                ]
            )
            rows += 1
    return rows


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, list[str]]:
    """The server, and admin tokens of two empty organizations (the good file, the all-bad file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'psabridge.db'}"
    migrate(url)
    engine = make_engine(url)
    tokens = []
    with make_sessionmaker(engine)() as session:
        for slug in ("bench", "bench-bad"):
            org = create_organization(session, f"Bench MSP {slug}", slug)
            tokens.append(create_api_token(session, org, role="admin")[1])
        session.commit()
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "PSABRIDGE_DATA_DIR": str(data_dir), "PSABRIDGE_DATABASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "psabridge.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/login", timeout=1)
            return proc, base, tokens
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def _latencies(client: httpx.Client, stop: threading.Event, out: list[float], limit: float) -> None:
    deadline = time.monotonic() + limit
    while not stop.is_set() and time.monotonic() < deadline:
        started = time.perf_counter()
        client.get("/api/v1/organizations/me").raise_for_status()
        out.append(time.perf_counter() - started)
        time.sleep(0.1)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            yield chunk


def _upload(base: str, token: str, path: Path) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=1800) as client:
        response = client.post(
            "/api/v1/imports?type=account", content=_chunks(path), headers={"content-type": "text/csv"}
        )
    return response, time.perf_counter() - started


def measure(megabytes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="psab-bench-upload-") as tmp:
        work = Path(tmp)
        good, bad = work / "accounts.csv", work / "bad_accounts.csv"
        rows = write_accounts(good, megabytes)
        write_accounts(bad, megabytes, bad=True)
        proc, base, (token, bad_token) = _serve(work / "data")
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                idle: list[float] = []
                _latencies(c, threading.Event(), idle, 3.0)
                busy: list[float] = []
                stop = threading.Event()
                poller = threading.Thread(target=_latencies, args=(c, stop, busy, 3600.0))
                poller.start()
                response, import_s = _upload(base, token, good)
                stop.set()
                poller.join()
            assert response.status_code == 200, response.text[:500]
            peak_good = _peak_rss_mb(proc.pid)
            failed, failed_s = _upload(base, bad_token, bad)
            assert failed.status_code == 422, failed.text[:500]
            body = failed.json()
            peak_after_bad = _peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        size_mb = good.stat().st_size / (1024 * 1024)
    return {
        "file_mb": size_mb,
        "rows": rows,
        "import_s": import_s,
        "peak_rss_mb": peak_good,
        "peak_rss_after_bad_mb": peak_after_bad,
        "idle_ms": statistics.median(idle) * 1000,
        "busy_median_ms": statistics.median(busy) * 1000,
        "busy_p95_ms": sorted(busy)[int(len(busy) * 0.95) - 1] * 1000 if busy else 0.0,
        "busy_max_ms": max(busy) * 1000 if busy else 0.0,
        "busy_samples": len(busy),
        "bad_s": failed_s,
        "bad_errors_listed": len(body["errors"]),
        "bad_errors_total": body["total_errors"],
        "bad_answer_kb": len(failed.content) / 1024,
    }


def run() -> dict[str, Any]:
    megabytes = int(os.environ.get("PSABRIDGE_BENCH_IMPORT_MB", "100"))
    r = measure(megabytes)
    print(r)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        "## Importing 100 MB through the REST API (benchmarks/bench_import_upload.py)",
        "",
        f"One run: a {r['file_mb']:.0f} MB accounts CSV ({r['rows']:,} rows) posted as the raw body to "
        "`POST /api/v1/imports` of `psabridge serve` (own process, SQLite); meanwhile another client asks "
        "`GET /api/v1/organizations/me` every 100 ms. Then a file of the same size where every row is bad, "
        "into another empty organization. Peak RSS is the server process's VmHWM (start-up included). "
        "Ratios are what is tracked. Known limit: the checks hold a snapshot of the organization's existing "
        "records of the imported types, so importing into an organization that already has hundreds of "
        "thousands of them costs memory in proportion to those (not to the file).",
        "",
        "| measured (UTC) | peak RSS / file size | peak RSS | target | other request during import / idle "
        "(median, p95) | import | all-bad answer / file size | errors listed of total |",
        "|---|---|---|---|---|---|---|---|",
        f"| {stamp} | **{r['peak_rss_mb'] / r['file_mb']:.2f}** | {r['peak_rss_mb']:.0f} MB "
        f"(after the all-bad file: {r['peak_rss_after_bad_mb']:.0f} MB) | <= {TARGET_MB} MB | "
        f"**{r['busy_median_ms'] / r['idle_ms']:.1f}x**, {r['busy_p95_ms'] / r['idle_ms']:.1f}x "
        f"({r['idle_ms']:.1f} ms idle, {r['busy_samples']} samples) | {r['import_s']:.0f} s | "
        f"{r['bad_answer_kb'] * 1024 / (r['file_mb'] * 1024 * 1024):.6f} ({r['bad_answer_kb']:.0f} KB) | "
        f"{r['bad_errors_listed']} of {r['bad_errors_total']:,} |",
        "",
        f"Machine: {_machine()} (shared with other work while measured).",
    ]
    _record_section(START, END, lines)
    return r
