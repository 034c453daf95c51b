"""Is an approved fix still right? Autotask as it is now, read just before writing.

A fix was proposed from what a reconciliation read; by the time it is approved and applied, a person or
an interrupted apply may have changed Autotask. One batched read per kind (the units of the corrected
contract services on the fix dates; the patched records by id) tells, per fix: ``write`` (Autotask still
shows what the reconciliation saw), ``already`` (it shows what the fix writes: nothing to send),
``stale`` (something else: reconcile again) or ``missing`` (the record is gone).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from psabridge.sync.journal import price_at
from psabridge.sync.reader import AutotaskApi, read_units_on, units_at
from psabridge.sync.records.base import normal

_CENT = 0.005


@dataclass
class Current:
    #: contract service id -> its units rows covering the fix dates
    unit_rows: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: (entity, id) -> record
    records: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    calls: int = 0

    def units(self, cs_id: int, day: str) -> int | None:
        rows = self.unit_rows.get(cs_id, [])
        return units_at(rows, day[:10]) if rows else 0

    def price(self, cs_id: int, day: str) -> float | None:
        return price_at(self.unit_rows.get(cs_id, []), day[:10])

    def verdict(self, p: dict[str, Any]) -> str:
        if "contract_service_id" in p:
            return self._adjust(p)
        record = self.records.get((str(p["entity"]), int(p["autotask_id"])))
        if record is None:
            return "missing"
        now = normal(record.get(str(p["field"])))
        if now == normal(p.get("observed")):
            return "write"
        return "already" if now == normal(p.get("value")) else "stale"

    def _adjust(self, p: dict[str, Any]) -> str:
        cs_id, day = int(p["contract_service_id"]), str(p["date"])
        change = int(p.get("unit_change") or 0)
        if change:
            units = self.units(cs_id, day) or 0
            seen = int(p["observed_units"])
            return "write" if units == seen else "already" if units == seen + change else "stale"
        price = self.price(cs_id, day)  # a price-only fix
        if _same(price, p.get("price")):
            return "already"
        return "write" if _same(price, p.get("observed_price")) else "stale"

    def why(self, p: dict[str, Any]) -> str:
        if "contract_service_id" in p:
            cs_id, day = int(p["contract_service_id"]), str(p["date"])
            return (
                f"Autotask now shows {self.units(cs_id, day)} unit(s) at {self.price(cs_id, day)} on {day[:10]}, "
                f"not the {p['observed_units']} the reconciliation saw: reconcile again"
            )
        record = self.records.get((str(p["entity"]), int(p["autotask_id"])))
        if record is None:
            return f"{p['entity']} #{p['autotask_id']} is no longer in Autotask"
        return (
            f"{p['field']} is now {record.get(str(p['field']))!r} in Autotask, not the {p.get('observed')!r} "
            "the reconciliation saw: reconcile again"
        )


def _same(a: float | None, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < _CENT


def read_current(client: AutotaskApi, params: list[dict[str, Any]]) -> Current:
    """One units query for every adjusted contract service and date, one query per patched entity."""
    current = Current()
    stats = getattr(client, "stats", None)
    before = getattr(stats, "total", None)
    wanted: dict[int, set[str]] = defaultdict(set)
    records: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for p in params:
        if "contract_service_id" in p:
            wanted[int(p["contract_service_id"])].add(str(p["date"])[:10])
        elif "entity" in p:
            records[str(p["entity"])][int(p["autotask_id"])].add(str(p["field"]))
    guessed = 0
    if wanted:
        current.unit_rows, calls = read_units_on(client, dict(wanted))
        guessed += calls
    for entity, by_id in sorted(records.items()):
        fields = sorted({"id", *(name for names in by_id.values() for name in names)})
        for row in client.query_in(entity, "id", sorted(by_id), include_fields=fields):
            current.records[(entity, int(row["id"]))] = row
        guessed += 1
    after = getattr(stats, "total", None)
    current.calls = after - before if isinstance(before, int) and isinstance(after, int) else guessed
    return current
