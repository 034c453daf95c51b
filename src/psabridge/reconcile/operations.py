"""Approved fixes as the sync's Operations, so the sync's applier writes them (journaled, exactly once).

Each write covers its fixes as ``correction:<fix id>`` records (the journal's unit of "what this write
was for"); adjustments of one contract service and date are one operation (Autotask takes one per date),
PATCHes of one record one operation. A relink is the sync's free ``link`` operation of the real record.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from psabridge.reconcile.checks import Current
from psabridge.reconcile.models import ReconcileFix, ReconcileRun
from psabridge.sync.records import RECORD_TYPES
from psabridge.sync.records.base import Operation, at_date

CORRECTION = "correction"
_ADJUSTMENTS = "ContractServiceAdjustments"


def _op_id(run: ReconcileRun, kind: str, group: list[ReconcileFix]) -> str:
    return f"reconcile:{run.id}:{kind}:{'-'.join(str(fx.id) for fx in group)}"[:160]


def _covers(group: list[ReconcileFix]) -> tuple[tuple[str, int], ...]:
    return tuple((CORRECTION, fx.id) for fx in group[1:])


def adjust_op(run: ReconcileRun, group: list[ReconcileFix], current: Current) -> Operation:
    p = group[0].params
    change = sum(int(fx.params.get("unit_change") or 0) for fx in group)
    price = next((fx.params["price"] for fx in group if fx.params.get("price") is not None), None)
    units = current.units(int(p["contract_service_id"]), str(p["date"])) or 0
    body: dict[str, Any] = {
        "contractID": int(p["contract_id"]),
        "contractServiceID": int(p["contract_service_id"]),
        "effectiveDate": at_date(_date(str(p["date"]))),
        "unitChange": change,
    }
    if price is not None:
        body["adjustedUnitPrice"] = float(price)
    return Operation(
        op_id=_op_id(run, "adjust", group),
        phase="reconcile",
        verb="adjust",
        entity=_ADJUSTMENTS,
        record_type=CORRECTION,
        hub_id=group[0].id,
        label=f"Correction of contract service #{p['contract_service_id']} on {p['date']}",
        body=body,
        covers=_covers(group),
        units_after=units + change,
        autotask_id=int(p["contract_service_id"]),
        summary=f"Adjust contract service #{p['contract_service_id']}: {change:+d} units on {p['date']}"
        + (f" at {price}" if price is not None else ""),
    )


def _date(day: str) -> date:
    return date.fromisoformat(day[:10])


def patch_op(run: ReconcileRun, group: list[ReconcileFix]) -> Operation:
    p = group[0].params
    body: dict[str, Any] = {"id": int(p["autotask_id"])}
    for fx in group:
        body[str(fx.params["field"])] = fx.params["value"]
    return Operation(
        op_id=_op_id(run, "update", group),
        phase="reconcile",
        verb="update",
        entity=str(p["entity"]),
        record_type=CORRECTION,
        hub_id=group[0].id,
        label=f"{p['entity']} #{p['autotask_id']}",
        body=body,
        parent=int(p["parent_id"]) if p.get("parent_id") is not None else None,
        covers=_covers(group),
        autotask_id=int(p["autotask_id"]),
        summary=f"Write back {', '.join(sorted(k for k in body if k != 'id'))} of {p['entity']} #{p['autotask_id']}",
    )


def relink_op(run: ReconcileRun, fx: ReconcileFix) -> Operation:
    p = fx.params
    return Operation(
        op_id=_op_id(run, "link", [fx]),
        phase="reconcile",
        verb="link",
        entity=str(_entity_of(str(p["record_type"]))),
        record_type=str(p["record_type"]),
        hub_id=int(p["hub_id"]),
        label=f"{p['record_type']} #{p['hub_id']}",
        body={"id": int(p["autotask_id"])},
        matching_key=str(p["key"]),
        fingerprint=str(p.get("fingerprint") or ""),
        covers=((CORRECTION, fx.id),),
        autotask_id=int(p["autotask_id"]),
        summary=f"Link {p['record_type']} #{p['hub_id']} to #{p['autotask_id']}",
    )


def _entity_of(record_type: str) -> str:
    return RECORD_TYPES[record_type].entity
