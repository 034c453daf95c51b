"""ContractServiceUnits: the units and price of a contract service per billing period.

Autotask never lets anyone set a contract service's units directly; every change is an adjustment with
an effective date, and the outcome is visible as one ContractServiceUnits row per billing period (a
period that starts mid-way, at an effective date, is split). Periods are anchored at the contract's
start date and last as long as the contract's period type (Autotask's ContractServiceUnits page: "as set
by the contract's Contract Period Type"), not the service's. Rows start at the first adjustment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from psabridge.emulator.values import add_months, format_date


@dataclass(frozen=True)
class UnitEvent:
    """One change of a contract service's units (an adjustment)."""

    effective: date
    unit_change: int
    unit_price: float | None
    unit_cost: float | None


def period_starts(contract_start: date, contract_end: date, months: int) -> list[date]:
    """Billing-period boundaries from the contract start up to (and after) the contract end."""
    months = max(months, 1)
    starts = []
    k = 0
    while True:
        start = add_months(contract_start, k * months)
        if start > contract_end:
            starts.append(start)
            return starts
        starts.append(start)
        k += 1


def compute_rows(
    events: list[UnitEvent], contract_start: date, contract_end: date, months: int
) -> list[dict[str, Any]]:
    """Rows ``{startDate, endDate, units, price, cost}`` from the first event to the contract end."""
    if not events:
        return []
    ordered = sorted(events, key=lambda e: e.effective)
    boundaries = period_starts(contract_start, contract_end, months)
    points = sorted({*boundaries[:-1], *(e.effective for e in ordered)})
    end_limit = contract_end + timedelta(days=1)
    first = ordered[0].effective
    rows = []
    for i, start in enumerate(points):
        if start < first or start >= end_limit:
            continue
        following = [b for b in boundaries if b > start]
        nxt = min([*following, *(p for p in points[i + 1 :] if p > start), end_limit])
        nxt = min(nxt, end_limit)
        units = 0
        price: float | None = None
        cost: float | None = None
        for event in ordered:
            if event.effective <= start:
                units += event.unit_change
                if event.unit_price is not None:
                    price = event.unit_price
                if event.unit_cost is not None:
                    cost = event.unit_cost
        rows.append(
            {
                "startDate": format_date(start),
                "endDate": format_date(nxt - timedelta(days=1)),
                "units": units,
                "price": price,
                "cost": cost,
            }
        )
    return rows
