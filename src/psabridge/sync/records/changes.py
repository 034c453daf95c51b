"""Changes tab: every seat change of a subscription -> a ContractServiceAdjustment of its contract service.

Items of a subscription, each with its date: the initial seats at its start (``subscription_start``),
each active license change log, the cancellation down to 0 of a cancelled subscription whose logs do not
reach 0, and for a pushed log archived later the pushed change plus an opposite ``reversal`` dated when it
was archived (history is never edited). Items of one date are merged into one adjustment with the net
change (Autotask takes one adjustment of a contract service per date), in date order, each with the units
it leaves (what reconciliation checks through ContractServiceUnits). A date that already holds a pushed
adjustment cannot take a second one: the new item is blocked with that reason.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from psabridge.sync.records.base import Operation, RecordType, Status, at_date, money, ref
from psabridge.sync.records.context import PlanContext, RecordModule
from psabridge.sync.records.services import initial_units
from psabridge.sync.snapshot import HubChangeLog, HubSubscription

_ADJUSTMENTS = "ContractServiceAdjustments"
# Adjustments cannot be read back: they are reconciled through ContractServiceUnits (no key field).
SUBSCRIPTION_START = RecordType("subscription_start", "changes", _ADJUSTMENTS, None, "I")
LICENSE_CHANGE_LOG = RecordType("license_change_log", "changes", _ADJUSTMENTS, None, "L")
CANCELLATION = RecordType("cancellation", "changes", _ADJUSTMENTS, None, "X")
#: an archived change log that had been pushed is corrected by an opposite adjustment
REVERSAL = RecordType("reversal", "changes", _ADJUSTMENTS, None, "V")

_KINDS = {
    SUBSCRIPTION_START.name: "initial units",
    CANCELLATION.name: "cancellation",
    REVERSAL.name: "correction of an archived change",
}


@dataclass(frozen=True)
class ChangeItem:
    """One seat change of a subscription on one date, and the record it stands for."""

    when: date
    record_type: str
    hub_id: int
    delta: int
    price: Decimal | None = None


def _label(ctx: PlanContext, sub: HubSubscription, item: ChangeItem) -> str:
    product = ctx.products.get(sub.product_id)
    name = product.name if product else f"subscription {sub.id}"
    kind = _KINDS.get(item.record_type, "change")
    return f"{name} {kind} {'+' if item.delta >= 0 else ''}{item.delta} on {item.when.isoformat()}"


def log_label(ctx: PlanContext, sub: HubSubscription, lg: HubChangeLog) -> str:
    return _label(ctx, sub, ChangeItem(lg.effective_date, LICENSE_CHANGE_LOG.name, lg.id, lg.delta))


def plan(ctx: PlanContext) -> None:
    for sub in sorted(ctx.hub.subscriptions, key=lambda s: s.id):
        _subscription_changes(ctx, sub, ctx.logs_by_sub.get(sub.id, []))


def _subscription_changes(ctx: PlanContext, sub: HubSubscription, logs: list[HubChangeLog]) -> None:
    waiting = ctx.waiting_on((ref("subscription", sub.id),))
    if sub.id in ctx.repeats:
        _record_carried(ctx, sub, ctx.repeats[sub.id][1], waiting)
    units, items = _items(ctx, sub, logs)
    by_date: dict[date, list[ChangeItem]] = defaultdict(list)
    for item in items:
        by_date[item.when].append(item)
    service_id = link.autotask_id if (link := ctx.link("subscription", sub.id)) else None
    below_zero: str | None = None
    for when in sorted(by_date):
        group = by_date[when]
        units += sum(i.delta for i in group)
        if units < 0 and below_zero is None:
            # logs recorded later but dated earlier can make the timeline go below 0 seats: Autotask
            # cannot hold that; from that date on nothing is pushed until the dates are fixed
            below_zero = (
                f"Applied in date order, this subscription's changes leave {units} seats on "
                f"{when.isoformat()}: correct the effective dates of its license change logs in the hub"
            )
        if below_zero is not None:
            _record_all(
                ctx,
                sub,
                [i for i in group if not ctx.synced(i.record_type, i.hub_id)],
                Status.BLOCKED,
                below_zero,
            )
            continue
        _date_group(ctx, sub, when, group, units, service_id, waiting)


def timeline(ctx: PlanContext, sub: HubSubscription) -> tuple[int, list[ChangeItem]]:
    """The seats of a subscription as the sync pushes them, pushed yet or not: the units a repeat
    contract service is added with at the subscription's start (0 for any other), and every seat change
    item in date order. Reconciliation compares Autotask's units with this; ``ctx`` must have been
    planned (the services module decides which subscriptions are repeats)."""
    units, items = _items(ctx, sub, ctx.logs_by_sub.get(sub.id, []))
    return units, sorted(items, key=lambda i: i.when)


def _items(ctx: PlanContext, sub: HubSubscription, logs: list[HubChangeLog]) -> tuple[int, list[ChangeItem]]:
    """The units the subscription starts from before its first item, and its items."""
    active = [lg for lg in logs if lg.status == "active"]
    initial = initial_units(ctx, sub)
    items: list[ChangeItem] = []
    units = 0
    if sub.id in ctx.repeats:
        units, carried = ctx.repeats[sub.id]
        carried_ids = {lg.id for lg in carried}
        active = [lg for lg in active if lg.id not in carried_ids]
    elif initial:
        items.append(ChangeItem(sub.start_date, SUBSCRIPTION_START.name, sub.id, initial))
    items += _log_items(active, sub.unit_price)
    items += _reversals(ctx, sub, logs)
    final = (units if sub.id in ctx.repeats else initial) + sum(lg.delta for lg in active)
    if sub.status == "cancelled" and final > 0:
        items.append(ChangeItem(sub.end_date or sub.changed_on, CANCELLATION.name, sub.id, -final))
    return units, items


def _record_carried(
    ctx: PlanContext, sub: HubSubscription, carried: tuple[HubChangeLog, ...], waiting: str | None
) -> None:
    for lg in carried:
        if ctx.synced(LICENSE_CHANGE_LOG.name, lg.id):
            status = Status.SYNCED
        else:
            status = Status.WAITING if waiting else Status.PENDING
        reason = waiting if status == Status.WAITING else "Carried by the adjustment that adds the service"
        ctx.record(LICENSE_CHANGE_LOG.name, lg.id, log_label(ctx, sub, lg), status, reason)


def _log_items(active: list[HubChangeLog], start_price: Decimal) -> list[ChangeItem]:
    """One item per active log in date order: a unit change carries the log's price (harmless when
    unchanged); a change of price alone is an item only when the price really differs."""
    items = []
    price_now = start_price
    for lg in sorted(active, key=lambda lg: (lg.effective_date, lg.id)):
        changed = lg.unit_price is not None and lg.unit_price != price_now
        new_price = lg.unit_price if (lg.delta or changed) else None
        if lg.unit_price is not None:
            price_now = lg.unit_price
        if lg.delta or new_price is not None or not lg.is_refund:
            items.append(ChangeItem(lg.effective_date, LICENSE_CHANGE_LOG.name, lg.id, lg.delta, new_price))
    return items


def _reversals(ctx: PlanContext, sub: HubSubscription, logs: list[HubChangeLog]) -> list[ChangeItem]:
    """Archived logs that had been pushed: the pushed adjustment stays (history is never edited) and an
    opposite adjustment corrects it, dated when the log was archived (at least a day later: one
    adjustment per service and date), never after the contract's end."""
    contract = ctx.contracts.get(sub.contract_id)
    items = []
    for lg in logs:
        if lg.status != "archived" or not ctx.synced(LICENSE_CHANGE_LOG.name, lg.id) or not lg.delta:
            continue
        items.append(ChangeItem(lg.effective_date, LICENSE_CHANGE_LOG.name, lg.id, lg.delta))
        when = max(lg.effective_date + timedelta(days=1), lg.changed_on or lg.effective_date)
        if contract is not None and contract.end_date is not None:
            when = min(when, contract.end_date)
        items.append(ChangeItem(when, REVERSAL.name, lg.id, -lg.delta))
    return items


def _date_group(
    ctx: PlanContext,
    sub: HubSubscription,
    when: date,
    group: list[ChangeItem],
    units: int,
    service_id: int | None,
    waiting: str | None,
) -> None:
    """Plan one date's items: nothing (all pushed, or netting to zero), blocked (the date already holds
    an adjustment), waiting for the contract service, or one adjustment with the net change."""
    done = [i for i in group if ctx.synced(i.record_type, i.hub_id)]
    todo = [i for i in group if not ctx.synced(i.record_type, i.hub_id)]
    for i in done:
        ctx.record(i.record_type, i.hub_id, _label(ctx, sub, i), Status.SYNCED)
    if not todo:
        return
    if waiting:
        _record_all(ctx, sub, todo, Status.WAITING, waiting)
        return
    todo_net = sum(i.delta for i in todo)
    if done or (sub.id in ctx.repeats and when == sub.start_date):
        # the date already holds an adjustment of this service (pushed, or the one that added a repeat
        # service): Autotask takes one per service and date
        if todo_net == 0:
            _record_all(ctx, sub, todo, Status.SYNCED, None)
        else:
            reason = (
                f"Autotask already holds an adjustment of this service on {when.isoformat()} and refuses "
                "a second one: record the change with another effective date"
            )
            _record_all(ctx, sub, todo, Status.BLOCKED, reason)
        return
    price = next((i.price for i in reversed(group) if i.price is not None), None)
    if todo_net == 0 and price is None:  # merged changes cancel out: nothing to write, all covered
        _record_all(ctx, sub, todo, Status.SYNCED, "Net change is zero")
        return
    ctx.ops.append(_adjustment(ctx, sub, when, group[0], todo, todo_net, price, units, service_id))
    _record_all(ctx, sub, todo, Status.PENDING, None)


def _record_all(
    ctx: PlanContext, sub: HubSubscription, items: list[ChangeItem], status: str, reason: str | None
) -> None:
    for i in items:
        ctx.record(i.record_type, i.hub_id, _label(ctx, sub, i), status, reason)


def _adjustment(
    ctx: PlanContext,
    sub: HubSubscription,
    when: date,
    head: ChangeItem,
    todo: list[ChangeItem],
    net: int,
    price: Decimal | None,
    units: int,
    service_id: int | None,
) -> Operation:
    body: dict[str, Any] = {
        "contractID": {"$ref": ref("billing_contract", sub.contract_id)},
        "contractServiceID": {"$ref": ref("subscription", sub.id)},
        "effectiveDate": at_date(when),
        "unitChange": net,
    }
    if price is not None:
        body["adjustedUnitPrice"] = money(price)
    label = _label(ctx, sub, ChangeItem(when, head.record_type, head.hub_id, head.delta))
    return Operation(
        op_id=f"adjust:subscription:{sub.id}:{when.isoformat()}",
        phase="changes",
        verb="adjust",
        entity=_ADJUSTMENTS,
        record_type=head.record_type,
        hub_id=head.hub_id,
        label=label,
        body=body,
        covers=tuple((i.record_type, i.hub_id) for i in todo),
        units_after=units,
        autotask_id=service_id,
        summary=(
            f"Adjust {label}: {'+' if net >= 0 else ''}{net} units on {when.isoformat()}"
            + (f" at {price}" if price is not None else "")
            + (f" (merges {len(todo)} changes)" if len(todo) > 1 else "")
        ),
    )


MODULE = RecordModule(
    name="changes",
    types=(SUBSCRIPTION_START, LICENSE_CHANGE_LOG, CANCELLATION, REVERSAL),
    plan=plan,
)
