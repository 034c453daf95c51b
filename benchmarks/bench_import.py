"""Import throughput: 10,000 subscriptions with 50,000 license change logs (plus their 2,000 accounts,
2,000 billing contracts and 15 products) imported from CSV files in one all-or-nothing transaction, on
SQLite and on a scratch PostgreSQL database. Records rows/second for the first import and for the
re-import (which must change nothing) in docs/benchmarks.md.

Run with ``make bench`` or ``python -m benchmarks bench_import``. PostgreSQL is taken from
``PSABRIDGE_PG_ADMIN`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); when it is not
reachable only SQLite is measured.
"""

from __future__ import annotations

import csv
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from psabridge.db import make_engine, make_sessionmaker, migrate
from psabridge.hub.imports.formats import Upload, parse
from psabridge.hub.imports.runner import run_import
from psabridge.hub.models import LicenseChangeLog, Subscription
from psabridge.hub.orgs import create_organization
from psabridge.hub.reports import mismatches
from psabridge.hub.sample_catalog import PRODUCTS

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
START, END = "<!-- bench_import:start -->", "<!-- bench_import:end -->"
SUBSCRIPTIONS = 10_000
LOGS_PER_SUBSCRIPTION = 5
SUBS_PER_CONTRACT = 5
FILES = ["products", "accounts", "billing_contracts", "subscriptions", "license_change_logs"]


def _write(path: Path, header: list[str], rows: Iterator[list[Any]]) -> int:
    count = 0
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def generate_files(directory: Path) -> dict[str, int]:
    """The benchmark's CSV files; every subscription has an initial log plus four seat changes."""
    contracts = SUBSCRIPTIONS // SUBS_PER_CONTRACT
    counts = {}
    counts["products"] = _write(
        directory / "products.csv",
        ["external_id", "name", "sku", "manufacturer", "kind", "unit_price", "unit_cost"],
        iter([[p[0], p[1], p[2], p[3] or "", p[4], p[5], p[6]] for p in PRODUCTS]),
    )
    counts["accounts"] = _write(
        directory / "accounts.csv",
        ["external_id", "name", "phone", "city", "country"],
        (
            [f"A{n}", f"Customer {n}", f"+1 206 555 {n % 10000:04d}", "Seattle", "United States"]
            for n in range(contracts)
        ),
    )
    counts["billing_contracts"] = _write(
        directory / "billing_contracts.csv",
        ["external_id", "account_external_id", "name", "billing_frequency", "start_date"],
        (
            [f"K{n}", f"A{n}", "Managed Services", "monthly" if n % 4 else "annual", "2024-01-01"]
            for n in range(contracts)
        ),
    )
    services = [p for p in PRODUCTS if p[4] == "service"]

    def subs() -> Iterator[list[Any]]:
        for n in range(SUBSCRIPTIONS):
            product = services[n % len(services)]
            yield [f"S{n}", f"K{n // SUBS_PER_CONTRACT}", product[0], 14, product[5], "2024-01-01"]

    counts["subscriptions"] = _write(
        directory / "subscriptions.csv",
        [
            "external_id",
            "billing_contract_external_id",
            "product_external_id",
            "quantity",
            "unit_price",
            "start_date",
        ],
        subs(),
    )

    def logs() -> Iterator[list[Any]]:
        start = date(2024, 1, 1)
        for n in range(SUBSCRIPTIONS):
            quantity = 0
            for k, after in enumerate((10, 14, 13, 11, 14)):
                when = start + timedelta(days=73 * k)
                reason = "Initial quantity" if k == 0 else "Seat change"
                yield [f"S{n}-L{k}", f"S{n}", when.isoformat(), quantity, after, reason]
                quantity = after

    counts["license_change_logs"] = _write(
        directory / "license_change_logs.csv",
        [
            "external_id",
            "subscription_external_id",
            "effective_date",
            "quantity_before",
            "quantity_after",
            "reason",
        ],
        logs(),
    )
    return counts


def _upload(directory: Path) -> Upload:
    upload = Upload("benchmark files")
    for name in FILES:
        path = directory / f"{name}.csv"
        upload.merge(parse(path.name, path.read_bytes()))
    return upload


def measure(url: str, directory: Path, rows: int) -> dict[str, float]:
    """Seconds and rows/second for the first import and for the re-import, on the database at ``url``."""
    migrate(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    try:
        with factory() as session:
            org = create_organization(session, "Benchmark MSP", f"bench-{int(time.time() * 1000)}")
            session.commit()
            org_id = org.id
        timings = {}
        for label in ("first", "again"):
            with factory() as session:
                started = time.perf_counter()
                run_import(session, org_id, _upload(directory))
                session.commit()
                timings[label] = time.perf_counter() - started
        with factory() as session:
            subs = session.scalar(select(func.count()).where(Subscription.organization_id == org_id))
            logs = session.scalar(select(func.count()).where(LicenseChangeLog.organization_id == org_id))
            assert subs == SUBSCRIPTIONS and logs == SUBSCRIPTIONS * LOGS_PER_SUBSCRIPTION, (subs, logs)
            assert mismatches(session, org_id) == []
        return {
            "first_s": timings["first"],
            "first_rows_s": rows / timings["first"],
            "again_s": timings["again"],
            "again_rows_s": rows / timings["again"],
        }
    finally:
        engine.dispose()


@contextmanager
def scratch_postgres() -> Iterator[str | None]:
    admin = os.environ.get("PSABRIDGE_PG_ADMIN_SQLA", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"psab_bench_import_{os.getpid()}"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # no PostgreSQL here: measure SQLite only
        print(f"PostgreSQL not available ({exc.__class__.__name__}); measuring SQLite only")
        yield None
        return
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


def _record(lines: list[str]) -> None:
    _record_section(START, END, lines)


def _record_section(start: str, end: str, lines: list[str]) -> None:
    """Replace the section between the markers in docs/benchmarks.md (or append it)."""
    section = "\n".join([start, *lines, end])
    doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        doc = head + section + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(doc)


def run() -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        counts = generate_files(directory)
        rows = sum(counts.values())
        print(f"files: {counts} ({rows} rows)")
        results["SQLite"] = measure(f"sqlite:///{directory / 'bench.db'}", directory, rows)
        print("SQLite", results["SQLite"])
        with scratch_postgres() as pg_url:
            if pg_url:
                results["PostgreSQL"] = measure(pg_url, directory, rows)
                print("PostgreSQL", results["PostgreSQL"])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        "## Billing hub import (benchmarks/bench_import.py)",
        "",
        f"{SUBSCRIPTIONS:,} subscriptions with {SUBSCRIPTIONS * LOGS_PER_SUBSCRIPTION:,} license change logs, plus "
        f"{counts['accounts']:,} accounts, {counts['billing_contracts']:,} billing contracts and "
        f"{counts['products']} products: {rows:,} CSV rows imported by `run_import` in one all-or-nothing "
        "transaction (parse, validate every row, resolve external ids, bulk insert — executemany on SQLite, COPY on PostgreSQL — and commit). "
        '"Re-import" imports the same files again: every row is compared and nothing is written.',
        "",
        "| measured (UTC) | database | first import | rows/s | re-import | rows/s |",
        "|---|---|---|---|---|---|",
    ]
    for db_name, r in results.items():
        lines.append(
            f"| {stamp} | {db_name} | {r['first_s']:.1f} s | **{r['first_rows_s']:,.0f}** | "
            f"{r['again_s']:.1f} s | {r['again_rows_s']:,.0f} |"
        )
    lines += ["", f"Machine: {_machine()} (shared with other work while measured)."]
    _record(lines)
    return results
