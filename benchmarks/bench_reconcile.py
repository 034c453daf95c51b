"""Reconciliation API budget and wall time (``python -m benchmarks bench_reconcile``).

Sample data is synced into a fresh emulator tenant (without latency: the sync has its own benchmark), then
reconciled with the emulator answering every call after 100 ms:

* untouched: every record is where PSA Bridge put it. Calls made against the minimum, ceil(records/500)
  per entity read (our records of each keyed entity, the contract services of our contracts, their units
  on the date): target calls/minimum <= 1.1; and the cost it stated before it ran;
* after a person's changes in Autotask (renamed companies, extra seats, a deleted contact): the same,
  with the follow-up read by id that a missing record costs.

Every request the emulator served counts (zone discovery is not a tenant call). Results are written to
docs/benchmarks.md between the bench_reconcile markers.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select

from benchmarks.support import connected_organization, emulator_process, record_section, total_calls
from psabridge.autotask.limits import TENANT_USAGE
from psabridge.config import Settings
from psabridge.db import make_engine, make_sessionmaker, migrate
from psabridge.hub import models as hub
from psabridge.reconcile import service as reconcile
from psabridge.sync import service

CUSTOMERS = int(os.environ.get("PSABRIDGE_BENCH_RECONCILE_CUSTOMERS", "240"))
LATENCY_MS = int(os.environ.get("PSABRIDGE_BENCH_RECONCILE_LATENCY_MS", "100"))
DAY = date(2025, 6, 30)  # inside the sample data's contracts (2023 to 2025)
TARGET = 1.1
PERSON_CHANGES = 10


def _person_changes(
    api_url: str, headers: dict[str, str], org_id: int, state: dict[str, list[dict[str, object]]]
) -> None:
    """Rename companies, add seats to contract services and delete a contact, as a person would."""
    prefix = f"PSB{org_id}-"
    companies = [c for c in state["Companies"] if str(c.get("companyNumber") or "").startswith(prefix)]
    services = [
        s for s in state["ContractServices"] if str(s.get("internalDescription") or "").startswith(prefix)
    ]
    contacts = [c for c in state["Contacts"] if str(c.get("externalID") or "").startswith(prefix)]
    with httpx.Client(base_url=f"{api_url}V1.0", headers=headers, timeout=60) as person:
        for company in companies[:PERSON_CHANGES]:
            person.patch(
                "/Companies", json={"id": company["id"], "companyName": f"{company['companyName']} (renamed)"}
            )
        for cs in services[:PERSON_CHANGES]:
            person.post(
                "/ContractServiceAdjustments",
                json={
                    "contractID": cs["contractID"],
                    "contractServiceID": cs["id"],
                    "effectiveDate": "2025-06-27T00:00:00",
                    "unitChange": 1,
                },
            )
        contact = contacts[0]
        person.delete(f"/Companies/{contact['companyID']}/Contacts/{contact['id']}")


def run() -> dict[str, float]:
    TENANT_USAGE.clear()
    with tempfile.TemporaryDirectory() as tmp, emulator_process() as emu:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        app_settings = Settings(data_dir=Path(tmp), database_url=url, autotask_zone_url=emu.zone_url)
        org_id = connected_organization(factory, emu, app_settings, customers=CUSTOMERS)
        with factory() as s:
            subs = s.scalar(select(func.count()).select_from(hub.Subscription)) or 0
        synced = service.run_sync(factory, org_id, app_settings=app_settings)
        results = []
        for label in (
            "untouched",
            f"after {PERSON_CHANGES} renames, {PERSON_CHANGES} extra seats, 1 deleted contact",
        ):
            if label != "untouched":
                state = emu.control.state()["entities"]
                api_url = f"{emu.base_url}/ATServicesRest/"
                headers = {
                    "ApiIntegrationCode": emu.credentials.integration_code,
                    "UserName": emu.credentials.username,
                    "Secret": emu.credentials.secret,
                    "Content-Type": "application/json",
                }
                _person_changes(api_url, headers, org_id, state)
            emu.control.set_latency(LATENCY_MS)
            emu.control.clear_calls()
            with factory() as s:
                stated = reconcile.estimate(s, org_id, DAY)
            started = time.perf_counter()
            done = reconcile.start(
                factory, org_id, app_settings=app_settings, on_date=DAY, started_by="bench"
            )
            wall = time.perf_counter() - started
            made = total_calls(emu.control.calls())
            emu.control.set_latency(0)
            assert done.status == "done", done.error
            differences = sum((done.counts or {}).values())
            results.append((label, stated, made, done.minimum_calls, wall, differences, done.reads))
        engine.dispose()

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows = []
    for label, stated, made, minimum, wall, differences, reads in results:
        ratio = made / minimum
        print(
            f"{label}: stated {stated}, made {made}, minimum {minimum}, ratio {ratio:.3f}, {wall:.1f}s, {differences} differences"
        )
        print(f"  reads: {reads}")
        rows.append(
            f"| {stamp} | {label} | {differences} | {stated} | {made} | {minimum} | **{ratio:.3f}** | <= {TARGET} | {wall:.1f} s |"
        )
    record_section(
        "bench_reconcile",
        "## Reconciliation: API budget and wall time (benchmarks/bench_reconcile.py)\n\n"
        f"Sample data ({CUSTOMERS} customers, seed 3: {subs:,} subscriptions; sync status {synced.status}) "
        f"reconciled on {DAY.isoformat()} against the emulator with {LATENCY_MS} ms latency per call, SQLite. "
        "Minimum = ceil(records/500) per entity read: our records of each keyed entity (companies, contacts, "
        "contracts, services, products, refund charges; by matching key), the contract services of our "
        "contracts, and their ContractServiceUnits rows on the date (one per contract service). Stated = the "
        "cost the reconciliation states before it runs, from the database alone; made = every request the "
        "emulator served (metadata included; zone discovery is not a tenant call). A record missing in "
        "Autotask costs one follow-up read by id per entity, which the minimum does not count.\n\n"
        "| measured (UTC) | tenant | differences | stated calls | API calls | minimum | calls/minimum | target | wall |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "Machine: 2 shared CPUs (other work running); the emulator runs in its own process on loopback.\n",
    )
    return {"ratio": results[0][2] / results[0][3], "wall": results[0][4]}


if __name__ == "__main__":  # pragma: no cover
    run()
