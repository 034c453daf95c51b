"""Read Autotask for a reconciliation with the fewest calls that answer the question.

Per entity one keyed ``in`` query (matching keys of every hub record of it, IncludeFields only what is
compared, 500 conditions and 500 records a page); a second query by id only for linked records the key
did not find (a person changed the key, or the record is gone); the contract services of our contracts;
and their ContractServiceUnits rows covering the chosen date (one row per contract service, date groups
OR-ed under the 500 conditions: :func:`psabridge.sync.reader.read_units_on`). The cost is stated before
(computed from the database alone, like a plan's read calls) and counted after.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from psabridge.autotask.query import MAX_OR_CONDITIONS
from psabridge.sync.reader import AutotaskApi, read_units_on
from psabridge.sync.records import INCLUDE_FIELDS, RECORD_TYPES

#: what is compared besides the owned fields the sync reads back: activity, types, prices
_EXTRA_FIELDS: dict[str, list[str]] = {
    "Companies": ["isActive", "companyType"],
    "Contracts": ["contractType", "contractPeriodType"],
    "Services": ["isActive", "periodType"],
    "ContractServices": ["unitPrice"],
    "ContractCharges": ["unitPrice", "datePurchased"],
}
#: conditions of one date group of :func:`read_units_on` besides its ids
_UNIT_GROUP = 3
PAGE = 500


def fields_of(entity: str) -> list[str]:
    return list(dict.fromkeys([*INCLUDE_FIELDS.get(entity, ["id"]), *_EXTRA_FIELDS.get(entity, [])]))


#: keyed entities in the order they are read, with the field carrying our key
KEYED: dict[str, str] = {
    rt.entity: rt.key_field
    for rt in RECORD_TYPES.values()
    if rt.key_field and rt.entity != "ContractServices"
}


@dataclass
class Targets:
    """What a reconciliation must read, known from the database alone (so its cost is known first)."""

    day: date
    #: entity -> matching keys of every hub record that becomes one of its records
    keys: dict[str, list[str]] = field(default_factory=dict)
    #: entity -> linked Autotask ids
    linked: dict[str, set[int]] = field(default_factory=dict)
    #: linked contract services (their units are read on the day)
    services: int = 0
    #: metadata reads not cached yet (the contract status picklist)
    metadata: int = 0

    def estimate(self) -> int:
        """Queries it will make when nothing is missing and pages hold what the keys predict."""
        calls = self.metadata
        for entity in KEYED:
            calls += math.ceil(len(self.keys.get(entity, [])) / MAX_OR_CONDITIONS)
        if self.linked.get("Contracts"):
            calls += max(1, math.ceil(self.services / PAGE))
        if self.services:
            calls += math.ceil(self.services / (MAX_OR_CONDITIONS - _UNIT_GROUP))
        return calls


@dataclass
class AutotaskSide:
    """What Autotask holds of our records, as read."""

    by_id: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    by_key: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: contract services under our contracts, by id
    services: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: contract service id -> its ContractServiceUnits row covering the day (absent: none)
    units: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: entity -> {"queries": n, "records": m}
    reads: dict[str, dict[str, int]] = field(default_factory=dict)
    calls: int = 0
    minimum: int = 0

    def record(self, entity: str, autotask_id: int | None) -> dict[str, Any] | None:
        if autotask_id is None:
            return None
        if entity == "ContractServices":
            return self.services.get(autotask_id)
        return self.by_id.get(entity, {}).get(autotask_id)


class _Meter:
    """Calls a read made: the client's own counters when it has them, else pages of what came back."""

    def __init__(self, client: AutotaskApi, side: AutotaskSide) -> None:
        self.client = client
        self.side = side

    def _total(self) -> int | None:
        stats = getattr(self.client, "stats", None)
        total = getattr(stats, "total", None)
        return total if isinstance(total, int) else None

    def measured(
        self, entity: str, fetch: Callable[[], tuple[list[dict[str, Any]], int]]
    ) -> list[dict[str, Any]]:
        """Run ``fetch`` (rows and the calls it thinks it made) and book the calls it really made."""
        before = self._total()
        rows, guessed = fetch()
        after = self._total()
        calls = after - before if before is not None and after is not None else guessed
        self.side.calls += calls
        entry = self.side.reads.setdefault(entity, {"queries": 0, "records": 0})
        entry["queries"] += calls
        entry["records"] += len(rows)
        return rows

    def read(
        self, entity: str, fetch: Callable[[], Iterator[dict[str, Any]]], chunks: int
    ) -> list[dict[str, Any]]:
        def run() -> tuple[list[dict[str, Any]], int]:
            rows = list(fetch())
            return rows, max(chunks, _pages(len(rows)))

        return self.measured(entity, run)


def _pages(rows: int) -> int:
    return max(1, math.ceil(rows / PAGE))


def _chunks(values: Iterable[Any]) -> int:
    return max(1, math.ceil(len(list(values)) / MAX_OR_CONDITIONS))


def read_autotask(client: AutotaskApi, targets: Targets) -> AutotaskSide:
    """Every read of one reconciliation (see the module docstring)."""
    side = AutotaskSide()
    meter = _Meter(client, side)
    for entity, key_field in KEYED.items():
        keys = sorted(set(targets.keys.get(entity, [])))
        rows: list[dict[str, Any]] = []
        if keys:
            rows = meter.read(
                entity,
                partial(client.query_in, entity, key_field, keys, include_fields=fields_of(entity)),
                _chunks(keys),
            )
        by_id = side.by_id.setdefault(entity, {})
        for row in rows:
            by_id[int(row["id"])] = row
            if row.get(key_field):
                side.by_key[(entity, str(row[key_field]))] = row
        unseen = sorted(targets.linked.get(entity, set()) - set(by_id))
        if unseen:  # linked records the key did not find: a changed key, or gone
            by_id_read = partial(client.query_in, entity, "id", unseen, include_fields=fields_of(entity))
            for row in meter.read(entity, by_id_read, _chunks(unseen)):
                by_id[int(row["id"])] = row
        side.minimum += math.ceil(max(len(keys), len(targets.linked.get(entity, ()))) / PAGE)
    _read_services(client, meter, side, targets.day.isoformat())
    return side


def _read_services(client: AutotaskApi, meter: _Meter, side: AutotaskSide, day: str) -> None:
    """The contract services of our contracts (a person's additions included) and their units."""
    contracts = sorted(side.by_id.get("Contracts", {}))
    if not contracts:
        return
    rows = meter.read(
        "ContractServices",
        lambda: client.query_in(
            "ContractServices", "contractID", contracts, include_fields=fields_of("ContractServices")
        ),
        _chunks(contracts),
    )
    side.services = {int(r["id"]): r for r in rows}
    for row in rows:
        if row.get("internalDescription"):
            side.by_key[("ContractServices", str(row["internalDescription"]))] = row
    side.minimum += _pages(len(rows))
    if not side.services:
        return
    found: dict[int, list[dict[str, Any]]] = {}

    def units() -> tuple[list[dict[str, Any]], int]:
        rows_by_service, calls = read_units_on(client, {cs_id: {day} for cs_id in side.services})
        found.update(rows_by_service)
        return [r for rs in rows_by_service.values() for r in rs], calls

    meter.measured("ContractServiceUnits", units)
    side.minimum += _pages(len(side.services))
    for cs_id, unit_rows in found.items():
        covering = [r for r in unit_rows if str(r.get("startDate"))[:10] <= day <= str(r.get("endDate"))[:10]]
        if covering:
            side.units[cs_id] = max(covering, key=lambda r: str(r.get("startDate")))
