"""Seats and prices per contract service on the chosen date, the contract services under our contracts
that no subscription explains, and the sync's read-back drift.

Autotask's units on the date come from the one ContractServiceUnits row covering it; the hub's from the
change items the sync pushes (:mod:`psabridge.reconcile.hubside`). Two hub figures tell who moved: the
units of everything the hub holds, and of what was pushed so far. Autotask matching the pushed figure
means the hub changed and the next push brings it (its fix is that push); anything else is a change in
Autotask, corrected by an adjustment back to what PSA Bridge pushed, dated on the date (history is never
edited: adjustments are permanent).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from psabridge.reconcile import findings as f
from psabridge.reconcile.hubside import Seats, hub_price_on, seats_of
from psabridge.reconcile.inputs import Inputs
from psabridge.reconcile.records import push_fix
from psabridge.sync.snapshot import HubSubscription

#: a price difference below this is rounding, not a difference
_CENT = 0.005


def compare_seats(inputs: Inputs, taken: dict[int, set[str]]) -> list[f.Found]:
    """``taken``: contract service id -> dates (YYYY-MM-DD) PSA Bridge already wrote an adjustment on
    (Autotask takes one per contract service and date)."""
    out: list[f.Found] = []
    for sub in sorted(inputs.hub.ctx.hub.subscriptions, key=lambda s: s.id):
        link = inputs.links.get(("subscription", sub.id))
        cs = inputs.autotask.services.get(link.autotask_id) if link and link.autotask_id else None
        if link is None or cs is None:
            continue  # not pushed, or missing: see ``records``
        found = _subscription(inputs, sub, cs, taken.get(int(cs["id"]), set()))
        if link.status == "drift":
            if found and found[0].category == f.SEATS:
                found[0].detail += f"; the last push's read-back marked it Drift: {link.reason}"
                found[0].evidence["drift"] = link.reason
            else:
                found.append(_drift(inputs, sub, int(cs["id"]), link.reason or ""))
        out.extend(found)
    out.extend(_unexplained(inputs, taken))
    return out


def _in_contract(inputs: Inputs, cs: dict[str, Any]) -> bool:
    contract = inputs.autotask.by_id.get("Contracts", {}).get(int(cs["contractID"]))
    if contract is None:
        return False
    day = inputs.day.isoformat()
    return str(contract.get("startDate"))[:10] <= day <= str(contract.get("endDate"))[:10]


def _free_date(day: date, taken: set[str]) -> date:
    while day.isoformat() in taken:
        day += timedelta(days=1)
    return day


def _subscription(inputs: Inputs, sub: HubSubscription, cs: dict[str, Any], taken: set[str]) -> list[f.Found]:
    if not _in_contract(inputs, cs):
        return []  # no billing period on the date: nothing will be invoiced
    cs_id = int(cs["id"])
    row = inputs.autotask.units.get(cs_id)
    units = int(row.get("units") or 0) if row else 0
    seats = seats_of(inputs.hub, sub)
    out: list[f.Found] = []
    hub_all = seats.units_on(inputs.day)
    if units != hub_all:
        out.append(_seats(inputs, sub, cs, row, units, seats, taken))
    price = _price(inputs, sub, cs, row, units, seats, taken)
    if price is not None:
        out.append(price)
    return out


def _base(inputs: Inputs, category: str, sub: HubSubscription, cs_id: int) -> f.Found:
    return f.Found(
        category,
        inputs.label("subscription", sub.id),
        autotask_entity="ContractServices",
        autotask_id=cs_id,
        record_type="subscription",
        hub_id=sub.id,
        subscription_id=sub.id,
    )


def _adjust(
    inputs: Inputs,
    cs: dict[str, Any],
    *,
    unit_change: int,
    observed: int,
    price: float | None,
    observed_price: float | None,
    taken: set[str],
    what: str,
) -> f.FixSpec:
    when = _free_date(inputs.day, taken)
    moved = (
        f" (Autotask takes one adjustment per contract service and date: {inputs.day.isoformat()} already "
        "holds one of PSA Bridge's, so it is dated the next free day)"
        if when != inputs.day
        else ""
    )
    return f.FixSpec(
        f.ADJUST,
        f"{what} dated {when.isoformat()} (1 API call){moved} — overwrites a change made in Autotask",
        1,
        True,
        params={
            "contract_id": int(cs["contractID"]),
            "contract_service_id": int(cs["id"]),
            "date": when.isoformat(),
            "unit_change": unit_change,
            "observed_units": observed,
            "price": price,
            "observed_price": observed_price,
        },
    )


def _seats(
    inputs: Inputs,
    sub: HubSubscription,
    cs: dict[str, Any],
    row: dict[str, Any] | None,
    units: int,
    seats: Seats,
    taken: set[str],
) -> f.Found:
    day = inputs.day
    hub_all, pushed = seats.units_on(day), seats.units_on(day, pushed_only=True)
    who = f.HUB if units == pushed else (f.PERSON if pushed == hub_all else f.BOTH)
    found = _base(inputs, f.SEATS, sub, int(cs["id"]))
    found.field = "units"
    found.autotask_value, found.hub_value, found.last_written = units, hub_all, pushed
    found.changed_by = who
    pending = [i for i in seats.pending() if i.when <= day]
    found.detail = (
        f"On {day.isoformat()} Autotask's ContractServiceUnits show {units} unit(s), the billing hub "
        f"{hub_all}; PSA Bridge pushed {pushed}: {f.CHANGED_BY[who]}"
    )
    found.evidence = {
        "autotask": row,
        "hub": {
            "units": hub_all,
            "pushed": pushed,
            "pending": [[i.record_type, i.hub_id, i.when.isoformat(), i.delta] for i in pending],
        },
    }
    fixes: list[f.FixSpec] = []
    if who == f.HUB:
        records = [(i.record_type, i.hub_id) for i in pending]
        push = push_fix(inputs, records, "the hub's seat changes") if records else None
        fixes = [push] if push else []
    else:
        change = pushed - units
        then = "; the hub's changes not pushed yet follow with the next push" if who == f.BOTH else ""
        fixes = [
            _adjust(
                inputs,
                cs,
                unit_change=change,
                observed=units,
                price=None,
                observed_price=None,
                taken=taken,
                what=f"Adjustment of {change:+d} seat(s) (Autotask then shows {pushed}){then}",
            )
        ]
    found.fixes = [*fixes, f.accept("Autotask's seats")]
    return found


def _price(
    inputs: Inputs,
    sub: HubSubscription,
    cs: dict[str, Any],
    row: dict[str, Any] | None,
    units: int,
    seats: Seats,
    taken: set[str],
) -> f.Found | None:
    owned = hub_price_on(inputs.hub, sub, inputs.day)
    if owned is None or row is None or row.get("price") is None:
        return None
    hub_price, log_id = float(owned[0]), owned[1]
    at_price = float(row["price"])
    if abs(at_price - hub_price) < _CENT:
        return None
    pushed = ("license_change_log", log_id) in seats.pushed
    found = _base(inputs, f.PRICE, sub, int(cs["id"]))
    found.field = "price"
    found.autotask_value, found.hub_value = at_price, hub_price
    found.changed_by = f.PERSON if pushed else f.HUB
    found.detail = (
        f"On {inputs.day.isoformat()} Autotask bills {at_price:.2f} a unit, the billing hub {hub_price:.2f} "
        f"(its change log #{log_id}): {f.CHANGED_BY[found.changed_by]}"
    )
    found.evidence = {"autotask": row, "hub": {"price": hub_price, "change_log": log_id}}
    if not pushed:
        push = push_fix(inputs, [("license_change_log", log_id)], "the hub's price change")
        found.fixes = [push] if push else []
    else:
        found.fixes = [
            _adjust(
                inputs,
                cs,
                unit_change=0,
                observed=units,
                price=hub_price,
                observed_price=at_price,
                taken=taken,
                what=f"Adjustment of the price to {hub_price:.2f} (no seat change)",
            )
        ]
    found.fixes.append(f.accept("Autotask's price"))
    return found


def _drift(inputs: Inputs, sub: HubSubscription, cs_id: int, reason: str) -> f.Found:
    found = _base(inputs, f.DRIFT, sub, cs_id)
    found.autotask_value = reason
    found.detail = (
        f"The last push read Autotask's units back and found a difference: {reason}. On "
        f"{inputs.day.isoformat()} Autotask's seats and the hub's agree."
    )
    found.evidence = {"drift": reason}
    found.fixes = [
        f.FixSpec(
            f.ACCEPT,
            "Mark it resolved (no API call): Autotask agrees with the hub on the reconciled date",
            params={"clear_drift": sub.id},
        )
    ]
    return found


def _unexplained(inputs: Inputs, taken: dict[int, set[str]]) -> list[f.Found]:
    """Contract services under our contracts linked to no subscription and carrying no unlinked
    subscription's key (those are ``unlinked``; repeats are linked by id, not key). One PSA Bridge
    already adjusted to 0 (an approved fix: Autotask cannot delete it) is not reported again."""
    linked = {
        link.autotask_id
        for (rt, _), link in inputs.links.items()
        if rt == "subscription" and link.autotask_id
    }
    ours = {inputs.key("subscription", s.id) for s in inputs.hub.ctx.hub.subscriptions}
    contract_of = {
        link.autotask_id: hub_id
        for (rt, hub_id), link in inputs.links.items()
        if rt == "billing_contract" and link.autotask_id
    }
    services = inputs.autotask.by_id.get("Services", {})
    out = []
    for cs_id, cs in sorted(inputs.autotask.services.items()):
        if cs_id in linked or str(cs.get("internalDescription") or "") in ours:
            continue
        row = inputs.autotask.units.get(cs_id)
        units = int(row.get("units") or 0) if row and _in_contract(inputs, cs) else 0
        if units == 0 and cs_id in taken:
            continue
        service = services.get(int(cs.get("serviceID") or 0), {})
        contract = contract_of.get(int(cs["contractID"]))
        contract_label = (
            inputs.label("billing_contract", contract) if contract else f"contract #{cs['contractID']}"
        )
        found = f.Found(
            f.UNEXPLAINED,
            f"{service.get('name') or 'Service #' + str(cs.get('serviceID'))} on {contract_label}",
            autotask_entity="ContractServices",
            autotask_id=cs_id,
            record_type="billing_contract" if contract else None,
            hub_id=contract,
            field="units",
            autotask_value=units,
            hub_value=0,
            changed_by=f.PERSON,
            detail=f"Contract service #{cs_id} is on a contract PSA Bridge pushed, but no subscription explains it",
            evidence={"autotask": cs, "units_row": row},
        )
        if units > 0:
            found.fixes.append(
                _adjust(
                    inputs,
                    cs,
                    unit_change=-units,
                    observed=units,
                    price=None,
                    observed_price=None,
                    taken=set(),
                    what=f"Adjustment of {-units:+d} seat(s) to 0 (Autotask cannot delete a contract service)",
                )
            )
        found.fixes.append(f.accept("this contract service"))
        out.append(found)
    return out


def adjustment_dates(entries: list[tuple[int, str]]) -> dict[int, set[str]]:
    """Contract service id -> dates PSA Bridge wrote an adjustment on, from (id, date) pairs."""
    out: dict[int, set[str]] = {}
    for cs_id, day in entries:
        out.setdefault(cs_id, set()).add(day[:10])
    return out
