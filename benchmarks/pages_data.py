"""The data set of the page benchmark: an organization of ~N subscriptions (sample data), as if it had
been synced (a link, a journal entry with the body written and an Autotask id for every record, some rows
left needing a link, blocked or waiting) and a push run with one result per record.

Only the hub data goes through the sample-data generator (the importer); the sync state is inserted in
bulk: it is a page benchmark, not a sync benchmark. The built database is cached by size under the temp
directory (SQLite: a copy of the file; PostgreSQL: a template database), so a second run starts at once.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from psabridge.auth.users import create_user
from psabridge.connectors.models import Connector
from psabridge.db import make_engine, make_sessionmaker, migrate
from psabridge.hub import models as hub
from psabridge.hub.orgs import create_organization
from psabridge.hub.sample_data import generate
from psabridge.sync.keys import RECORD_TYPES, matching_key
from psabridge.sync.models import JournalEntry, RecordResult, SyncLink, SyncRun

#: Subscriptions per customer of the sample data (seed 3), to size an organization by subscriptions.
SUBSCRIPTIONS_PER_CUSTOMER = 4.69
ADMIN_EMAIL = "admin@bench-pages.example"
ADMIN_PASSWORD = "bench-pages-Passw0rd!"
CHUNK = 5000


def customers_for(subscriptions: int) -> int:
    return max(1, math.ceil(subscriptions / SUBSCRIPTIONS_PER_CUSTOMER))


def cache_path(subscriptions: int) -> Path:
    return Path(tempfile.gettempdir()) / "psabridge-bench-pages" / f"org-{subscriptions}.db"


def _bulk(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        session.execute(insert(model), rows[i : i + CHUNK])


def _status_of(n: int) -> tuple[str, str | None]:
    """Mostly synced; every 97th needs a link, every 89th blocked, every 83rd waiting."""
    if n % 97 == 0:
        return "needs_link", "1 Autotask record(s) with the same name: link one or choose Add New"
    if n % 89 == 0:
        return "blocked", "No Autotask period type is mapped for triennial"
    if n % 83 == 0:
        return "waiting", "Waiting for a customer"
    return "synced", None


def _records(session: Session, org: int) -> list[tuple[str, int, str, dict[str, Any]]]:
    """(record_type, hub_id, label, body written) of every record a sync would have linked."""
    out: list[tuple[str, int, str, dict[str, Any]]] = []
    for pid, name, kind in session.execute(
        select(hub.Product.id, hub.Product.name, hub.Product.kind).where(hub.Product.organization_id == org)
    ):
        if kind == "product":
            out.append(("product", pid, name, {"name": name}))
    pairs = session.execute(
        select(hub.Subscription.product_id, hub.BillingContract.billing_frequency, hub.Product.name)
        .join(hub.BillingContract, hub.BillingContract.id == hub.Subscription.billing_contract_id)
        .join(hub.Product, hub.Product.id == hub.Subscription.product_id)
        .where(hub.Subscription.organization_id == org)
        .distinct()
    )
    for pid, freq, name in pairs:
        out.append((f"service.{freq}", pid, f"{name} ({freq})", {"name": f"{name} ({freq})"}))
    for aid, name, contact in session.execute(
        select(hub.Account.id, hub.Account.name, hub.Account.primary_contact_id).where(
            hub.Account.organization_id == org
        )
    ):
        out.append(("account", aid, name, {"companyName": name}))
        if contact:
            out.append(("contact", contact, f"contact of {name}", {"firstName": "Alex", "lastName": name}))
    for cid, name in session.execute(
        select(hub.BillingContract.id, hub.BillingContract.name).where(
            hub.BillingContract.organization_id == org
        )
    ):
        out.append(("billing_contract", cid, name, {"contractName": name}))
    for sid, qty in session.execute(
        select(hub.Subscription.id, hub.Subscription.quantity).where(hub.Subscription.organization_id == org)
    ):
        out.append(("subscription", sid, f"subscription {sid}", {"serviceID": 1, "units": qty}))
        out.append(("subscription_start", sid, f"subscription {sid}: initial units", {"unitChange": qty}))
    for lid, qb, qa, day, refund in session.execute(
        select(
            hub.LicenseChangeLog.id,
            hub.LicenseChangeLog.quantity_before,
            hub.LicenseChangeLog.quantity_after,
            hub.LicenseChangeLog.effective_date,
            hub.LicenseChangeLog.refund_amount,
        ).where(hub.LicenseChangeLog.organization_id == org)
    ):
        body = {"unitChange": qa - qb, "effectiveDate": day.isoformat(), "serviceID": 1}
        out.append(("license_change_log", lid, f"change {lid}", body))
        if refund:
            out.append(("refund", lid, f"refund {lid}", {"name": f"Refund {lid}"}))
    return out


def _sync_state(factory: sessionmaker[Session], org: int, results: int) -> None:
    """Links, journal entries and a push run as if the organization had been synced."""
    now = datetime.now(UTC)
    with factory() as s:
        connector = Connector(
            organization_id=org,
            name="Autotask",
            username="bench@example.invalid",
            secret_encrypted="-",
            integration_code="BENCH",
            status="ready",
        )
        s.add(connector)
        s.flush()
        run = SyncRun(
            organization_id=org, connector_id=connector.id, mode="apply", status="partial", counts={}
        )
        s.add(run)
        s.flush()
        records = _records(s, org)
        links: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        run_rows: list[dict[str, Any]] = []
        counts: dict[str, dict[str, int]] = {}
        for n, (record_type, hub_id, label, body) in enumerate(records, start=1):
            rt = RECORD_TYPES[record_type]
            status, reason = _status_of(n)
            at_id = 1000 + n if status == "synced" else None
            key = matching_key(org, record_type, hub_id)
            links.append(
                {
                    "organization_id": org,
                    "connector_id": connector.id,
                    "record_type": record_type,
                    "hub_id": hub_id,
                    "autotask_entity": rt.entity,
                    "autotask_id": at_id,
                    "matching_key": key,
                    "status": status,
                    "reason": reason,
                    "decision": "auto",
                    "candidates": [{"id": 7, "name": label}] if status == "needs_link" else [],
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if at_id is not None:
                entries.append(
                    {
                        "organization_id": org,
                        "connector_id": connector.id,
                        "run_id": run.id,
                        "op_id": f"{record_type}:{hub_id}:create",
                        "entity": rt.entity,
                        "verb": "adjust" if rt.entity == "ContractServiceAdjustments" else "create",
                        "body_hash": "-",
                        "body": body,
                        "matching_key": key,
                        "covers": {"records": [{"record_type": record_type, "hub_id": hub_id}]},
                        "outcome": "done",
                        "autotask_id": at_id,
                        "created_at": now,
                        "finished_at": now,
                    }
                )
            if len(run_rows) < results:
                counts.setdefault(rt.phase, {}).setdefault(status, 0)
                counts[rt.phase][status] += 1
                run_rows.append(
                    {
                        "run_id": run.id,
                        "record_type": record_type,
                        "hub_id": hub_id,
                        "label": label[:300],
                        "status": status,
                        "reason": reason,
                        "autotask_id": at_id,
                        "written": at_id is not None,
                    }
                )
        _bulk(s, SyncLink, links)
        _bulk(s, JournalEntry, entries)
        _bulk(s, RecordResult, run_rows)
        run.counts = counts
        run.planned_operations = len(entries)
        run.finished_at = now
        s.commit()


def build(url: str, subscriptions: int, *, results: int | None = None) -> int:
    """Build the benchmark's organization into the (empty) database at ``url``. Returns its id."""
    migrate(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    try:
        with factory() as s:
            org = create_organization(s, "Bench Pages MSP", "bench-pages")
            create_user(s, org.id, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, role="admin")
            generate(s, org, customers=customers_for(subscriptions), seed=3)
            s.commit()
            org_id = org.id
        _sync_state(factory, org_id, results if results is not None else subscriptions)
        _analyze(engine)
    finally:
        engine.dispose()
    return org_id


def _analyze(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


def cached_sqlite(subscriptions: int, target: Path) -> int:
    """A copy of the cached SQLite database of this size at ``target`` (built first when missing)."""
    cached = cache_path(subscriptions)
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".building")
        partial.unlink(missing_ok=True)
        build(f"sqlite:///{partial}", subscriptions)
        partial.rename(cached)
    shutil.copyfile(cached, target)
    url = f"sqlite:///{target}"
    migrate(url)  # a cache built before a newer migration
    engine = make_engine(url)
    try:
        _analyze(engine)
        with engine.connect() as conn:
            org = conn.scalar(select(func.min(hub.Organization.id)))
    finally:
        engine.dispose()
    return int(org or 0)


def _database_exists(admin: Engine, name: str) -> bool:
    with admin.connect() as conn:
        return bool(conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}))


@contextmanager
def cached_postgres(subscriptions: int, admin_url: str) -> Iterator[str]:
    """A scratch PostgreSQL database holding the benchmark's organization of this size, copied from a
    template database built once (``psab_bench_pages_tpl_<size>``) and dropped afterwards; yields its URL.

    ``admin_url`` is any database of the server the role may create databases from (``.../test``)."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    template = f"psab_bench_pages_tpl_{subscriptions}"
    scratch = f"psab_bench_pages_run_{os.getpid()}"
    base = admin_url.rsplit("/", 1)[0]
    try:
        if not _database_exists(admin, template):
            building = f"{template}_building"
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{building}"'))
            build(f"{base}/{building}", subscriptions)
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{template}"'))
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{scratch}" TEMPLATE "{template}"'))
        url = f"{base}/{scratch}"
        migrate(url)  # a template built before a newer migration
        engine = make_engine(url)
        try:
            _analyze(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()
