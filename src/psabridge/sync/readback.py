"""Read-back verification: after a push changed seats, does Autotask itself agree with the hub?

A run that "succeeded" proves only that Autotask accepted each write. What Autotask will invoice is
what its ContractServiceUnits say. So after a push, for every contract service whose units the push
changed, the units on the date of the last change it pushed are read back (date-filtered: one row per
service, a few queries for the whole push) and compared with the units the hub expects on that date.
A difference marks the subscription "drift" with both figures; reconciling it is a person's decision
(adjustments are permanent), never an automatic second write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psabridge.sync.applier import OpResult
from psabridge.sync.keys import parse_ref, ref
from psabridge.sync.reader import AutotaskApi, read_units_on, units_at


@dataclass(frozen=True)
class Expectation:
    """Units the hub expects on one contract service on one date."""

    subscription_id: int
    contract_service_id: int
    day: str  # YYYY-MM-DD
    units: int


@dataclass(frozen=True)
class Drift:
    """Autotask's units differ from the hub's on the checked date."""

    expectation: Expectation
    actual: int | None

    @property
    def reason(self) -> str:
        e = self.expectation
        shown = "no units" if self.actual is None else f"{self.actual} unit(s)"
        return (
            f"Autotask's ContractServiceUnits show {shown} on {e.day}, the billing hub {e.units}: "
            "check the contract service in Autotask (adjustments cannot be undone; a correction is a new one)"
        )


def _subscription_of(result: OpResult) -> int | None:
    op = result.op
    if op.repeat:
        return op.hub_id
    if op.verb != "adjust":
        return None
    target = op.body.get("contractServiceID")
    if isinstance(target, dict) and "$ref" in target:
        record_type, hub_id = parse_ref(str(target["$ref"]))
        return hub_id if record_type == "subscription" else None
    return None


def expectations(results: list[OpResult], ids: dict[str, int]) -> list[Expectation]:
    """Per subscription whose units this push changed: the units after its last successful change."""
    last: dict[int, Expectation] = {}
    for result in results:
        if result.status != "synced":
            continue
        sub_id = _subscription_of(result)
        if sub_id is None:
            continue
        op = result.op
        cs_id = result.autotask_id if op.repeat else ids.get(ref("subscription", sub_id))
        if cs_id is None:
            continue
        units = int(op.body.get("unitChange") or 0) if op.repeat else op.units_after
        if units is None:
            continue
        day = str(op.body.get("effectiveDate", ""))[:10]
        current = last.get(sub_id)
        if current is None or day >= current.day:
            last[sub_id] = Expectation(sub_id, int(cs_id), day, int(units))
    return sorted(last.values(), key=lambda e: e.subscription_id)


def verify(client: AutotaskApi, wanted: list[Expectation]) -> tuple[list[Drift], int]:
    """Read the units back and return the differences, and the API calls it took."""
    if not wanted:
        return [], 0
    by_service: dict[int, set[str]] = {}
    for e in wanted:
        by_service.setdefault(e.contract_service_id, set()).add(e.day)
    rows, calls = read_units_on(client, by_service)
    drifts: list[Drift] = []
    for e in wanted:
        service_rows: list[dict[str, Any]] = rows.get(e.contract_service_id, [])
        actual = units_at(service_rows, e.day)
        if actual != e.units:
            drifts.append(Drift(e, actual))
    return drifts, calls
