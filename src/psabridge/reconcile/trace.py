"""The trace of one contract service: the hub's change-log timeline beside Autotask's unit timeline.

It answers "which billing change produced which Autotask units, and where do they part?": every seat
change item of the subscription (initial seats, change logs, cancellation, corrections of archived logs)
with the adjustment the journal says carried it (and its outcome), the adjustments PSA Bridge wrote to
correct it (approved reconciliation fixes), and Autotask's ContractServiceUnits rows of that contract
service (all of its billing periods: read on demand, one query, only for this page). Lines are the dates
where either side changes; the first date where they disagree is where they part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.autotask.query import F
from psabridge.reconcile.hubside import hub_price_on, hub_side, seats_of
from psabridge.reconcile.service import ReconcileError, connector_of
from psabridge.sync import journal as jr
from psabridge.sync.hub_loader import load_snapshot
from psabridge.sync.models import JournalEntry
from psabridge.sync.reader import AutotaskApi, units_at
from psabridge.sync.records.changes import ChangeItem
from psabridge.sync.snapshot import AutotaskView

_KINDS = {
    "subscription_start": "Initial seats",
    "license_change_log": "Change log",
    "cancellation": "Cancellation",
    "reversal": "Correction of an archived change log",
}


@dataclass
class TraceLine:
    day: str
    hub_units: int
    autotask_units: int | None
    hub_price: float | None
    autotask_price: float | None
    hub_items: list[dict[str, Any]] = field(default_factory=list)
    written: list[dict[str, Any]] = field(default_factory=list)
    autotask_row: dict[str, Any] | None = None
    #: Autotask changed on this date without an adjustment of PSA Bridge's (a person's, or a lost one)
    autotask_change: str | None = None
    agree: bool = True


@dataclass
class Trace:
    subscription_id: int
    label: str
    contract_service_id: int | None
    on_date: date
    lines: list[TraceLine] = field(default_factory=list)
    #: Autotask's rows (None: not read, e.g. for a viewer)
    autotask_rows: list[dict[str, Any]] | None = None
    parted_on: str | None = None
    calls: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "label": self.label,
            "contract_service_id": self.contract_service_id,
            "on_date": self.on_date.isoformat(),
            "parted_on": self.parted_on,
            "api_calls": self.calls,
            "note": self.note,
            "autotask_rows": self.autotask_rows,
            "lines": [line.__dict__ for line in self.lines],
        }


def _journal(session: Session, connector_id: int, cs_id: int) -> list[dict[str, Any]]:
    """Adjustments PSA Bridge wrote to this contract service (sync pushes and approved corrections)."""
    out = []
    rows = session.scalars(
        select(JournalEntry)
        .where(
            JournalEntry.connector_id == connector_id,
            JournalEntry.entity.in_(("ContractServiceAdjustments", "ContractServices")),
        )
        .order_by(JournalEntry.id)
    )
    for entry in rows:
        covers = entry.covers or {}
        repeat = covers.get("repeat") if entry.verb == "create" else None
        if entry.verb == "adjust" and covers.get("contract_service_id") == cs_id:
            day = str(covers.get("effective_date", ""))[:10]
        elif repeat and entry.autotask_id == cs_id:
            day = str(repeat.get("effective_date", ""))[:10]
        else:
            continue
        body = entry.body or {}
        out.append(
            {
                "journal_entry": entry.id,
                "day": day,
                "unit_change": body.get("unitChange"),
                "price": body.get("adjustedUnitPrice"),
                "outcome": entry.outcome,
                "adjustment_id": entry.autotask_id if entry.verb == "adjust" else None,
                "by": "reconciliation fix" if entry.op_id.startswith("reconcile:") else "sync",
                "covers": [[r.get("record_type"), r.get("hub_id")] for r in covers.get("records", [])],
            }
        )
    return out


def _item(item: ChangeItem, units_after: int, status: str, written: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "kind": _KINDS.get(item.record_type, item.record_type),
        "record": [item.record_type, item.hub_id],
        "delta": item.delta,
        "price": float(item.price) if item.price is not None else None,
        "units_after": units_after,
        "status": status,
        "journal_entry": written["journal_entry"] if written else None,
        "adjustment_id": written["adjustment_id"] if written else None,
    }


def trace(
    session: Session,
    organization_id: int,
    subscription_id: int,
    *,
    on_date: date,
    client: AutotaskApi | None = None,
) -> Trace:
    """The trace of a subscription's contract service; Autotask is read only when ``client`` is given."""
    connector, settings = connector_of(session, organization_id)
    hub = load_snapshot(session, organization_id)
    sub = next((s for s in hub.subscriptions if s.id == subscription_id), None)
    if sub is None:
        raise ReconcileError(f"No subscription {subscription_id}", field="subscription_id", status=404)
    links = jr.link_states(jr.load_links(session, connector.id))
    side = hub_side(hub, AutotaskView(), links, settings)
    seats = seats_of(side, sub)
    link = links.get(("subscription", sub.id))
    cs_id = link.autotask_id if link else None
    out = Trace(
        sub.id, side.ctx.labels.get(f"subscription:{sub.id}", f"subscription #{sub.id}"), cs_id, on_date
    )
    written = _journal(session, connector.id, cs_id) if cs_id else []
    by_record = {tuple(c): w for w in written for c in w["covers"]}
    rows: list[dict[str, Any]] | None = None
    if cs_id is None:
        out.note = "Not pushed to Autotask yet: there is no contract service to compare with."
    elif client is not None:
        rows = list(
            client.query(
                "ContractServiceUnits",
                F.eq("contractServiceID", cs_id),
                include_fields=["id", "startDate", "endDate", "units", "price"],
            )
        )
        out.calls = max(1, -(-len(rows) // 500))
        rows.sort(key=lambda r: str(r.get("startDate")))
        out.autotask_rows = rows
    else:
        out.note = "Autotask's unit timeline is read by admins (it costs an API call)."
    _lines(out, seats, side, sub, rows, written, by_record)
    return out


def _changes_on(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows that start a change (units or price differ from the period before)."""
    out: dict[str, dict[str, Any]] = {}
    previous: tuple[Any, Any] | None = None
    for row in rows:
        now = (row.get("units"), row.get("price"))
        if now != previous:
            out[str(row.get("startDate"))[:10]] = row
        previous = now
    return out


def _lines(
    out: Trace,
    seats: Any,
    side: Any,
    sub: Any,
    rows: list[dict[str, Any]] | None,
    written: list[dict[str, Any]],
    by_record: dict[tuple[Any, ...], dict[str, Any]],
) -> None:
    starts = _changes_on(rows or [])
    days = {i.when.isoformat() for i in seats.items} | {w["day"] for w in written} | set(starts)
    days.add(out.on_date.isoformat())
    first = min(starts) if starts else None
    before: tuple[int | None, float | None] = (0, None)
    for day in sorted(d for d in days if d):
        when = date.fromisoformat(day)
        owned = hub_price_on(side, sub, when)
        line = TraceLine(day, seats.units_on(when), None, float(owned[0]) if owned else None, None)
        for item in (i for i in seats.items if i.when.isoformat() == day):
            status = "pushed" if (item.record_type, item.hub_id) in seats.pushed else "not pushed"
            line.hub_items.append(
                _item(item, seats.units_on(when), status, by_record.get((item.record_type, item.hub_id)))
            )
        line.written = [w for w in written if w["day"] == day]
        if rows is not None:
            line.autotask_row = starts.get(day)
            units = units_at(rows, day)
            # before the first row Autotask holds no units; after the last one, no billing period
            line.autotask_units = (
                units if units is not None else (0 if first is None or day < first else None)
            )
            line.autotask_price = jr.price_at(rows, day)
            comparable = line.autotask_units is not None
            price_ok = line.hub_price is None or (
                line.autotask_price is not None and abs(line.autotask_price - line.hub_price) < 0.005
            )
            line.agree = not comparable or (line.autotask_units == line.hub_units and price_ok)
            now = (line.autotask_units, line.autotask_price)
            if day in starts and now != before and not line.written and day != first:
                line.autotask_change = (
                    f"Autotask: {before[0]} → {now[0]} unit(s)"
                    + (f", price {before[1]} → {now[1]}" if now[1] != before[1] else "")
                    + " (no adjustment of PSA Bridge's)"
                )
            before = now
            if not line.agree and out.parted_on is None:
                out.parted_on = day
        out.lines.append(line)
