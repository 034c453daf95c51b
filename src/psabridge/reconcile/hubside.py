"""The billing hub's side of a reconciliation, computed the way the sync computes what it pushes.

Nothing here is a second opinion of the hub's truth: the owned values are captured from the sync's own
planner (so "what the hub wants in Autotask" is exactly what a push would write), and a subscription's
seats on a date come from the same change items the sync turns into adjustments. What PSA Bridge last
wrote into a record comes from the journal, which is what tells a person's change in Autotask ("it no
longer holds what we wrote") from a change in the hub ("we have not pushed it yet").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.sync.models import JournalEntry
from psabridge.sync.records import MODULES, RECORD_TYPES
from psabridge.sync.records.base import Desired, Operation, RecordStatus, fingerprint
from psabridge.sync.records.changes import ChangeItem, timeline
from psabridge.sync.records.context import PlanContext
from psabridge.sync.snapshot import AutotaskView, HubSnapshot, HubSubscription, LinkState


@dataclass(frozen=True)
class Wanted:
    """What the sync would make of one linked hub record: its owned values (matching key included)."""

    desired: Desired
    owned: dict[str, Any]
    repeat: bool

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.owned)


class _Capture(PlanContext):
    """The planner's context, remembering every record's desired values on their way to the upsert."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.wanted: dict[tuple[str, int], Wanted] = {}

    def upsert(
        self, d: Desired, *, suggest: list[dict[str, Any]] | None = None, repeat: bool = False
    ) -> None:
        rt = self.types[d.record_type]
        owned = dict(d.owned)
        if rt.key_field and not repeat:
            owned[rt.key_field] = rt.key(self.org, d.hub_id)
        self.wanted[(d.record_type, d.hub_id)] = Wanted(d, owned, repeat)
        # no name suggestions: a reconciliation reads no company names (an unlinked record is "not in
        # Autotask"; the PSA Integration tab decides link or Add New)
        super().upsert(d, suggest=None, repeat=repeat)


@dataclass
class HubSide:
    """The sync's plan of the hub as it is now, with what each record should look like in Autotask."""

    ctx: PlanContext
    wanted: dict[tuple[str, int], Wanted]
    statuses: dict[tuple[str, int], RecordStatus]
    #: (record_type, hub_id) -> the sync's operations writing it (its push, should it be approved)
    ops: dict[tuple[str, int], list[Operation]] = field(default_factory=dict)

    def subscription(self, sub_id: int) -> HubSubscription | None:
        return next((s for s in self.ctx.hub.subscriptions if s.id == sub_id), None)


def hub_side(
    hub: HubSnapshot,
    view: AutotaskView,
    links: dict[tuple[str, int], LinkState],
    settings: AutotaskConnectorSettings,
) -> HubSide:
    """Run the sync's planner (pure) and keep what it wanted of every record."""
    ctx = _Capture(hub, view, links, settings, RECORD_TYPES)
    for module in MODULES:
        module.plan(ctx)
    statuses = {(r.record_type, r.hub_id): r for r in ctx.records}
    ops: dict[tuple[str, int], list[Operation]] = {}
    for op in ctx.ops:
        for key in {(op.record_type, op.hub_id), *op.covers}:
            ops.setdefault(key, []).append(op)
    return HubSide(ctx, ctx.wanted, statuses, ops)


# -- seats -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seats:
    """A subscription's seats as the sync pushes them: carried at start (a repeat) and the change items."""

    sub: HubSubscription
    carried: int
    items: tuple[ChangeItem, ...]
    carried_pushed: bool
    pushed: frozenset[tuple[str, int]]

    def units_on(self, day: date, *, pushed_only: bool = False) -> int:
        """Units the hub expects on ``day`` (``pushed_only``: counting only what was pushed so far)."""
        total = 0
        if day >= self.sub.start_date and (self.carried_pushed or not pushed_only):
            total += self.carried
        for item in self.items:
            if item.when <= day and (not pushed_only or (item.record_type, item.hub_id) in self.pushed):
                total += item.delta
        return total

    def pending(self) -> list[ChangeItem]:
        """Seat changes of the hub that are not in Autotask yet."""
        return [i for i in self.items if (i.record_type, i.hub_id) not in self.pushed]


def seats_of(side: HubSide, sub: HubSubscription) -> Seats:
    ctx = side.ctx
    carried, items = timeline(ctx, sub)
    pushed = frozenset((i.record_type, i.hub_id) for i in items if ctx.synced(i.record_type, i.hub_id))
    return Seats(sub, carried, tuple(items), ctx.linked("subscription", sub.id), pushed)


def hub_price_on(side: HubSide, sub: HubSubscription, day: date) -> tuple[Decimal, int] | None:
    """The unit price the hub owns on ``day``: that of its last active change log carrying a price, dated
    on or before ``day`` (and that log's id); None before the first one (the price a contract service was
    created with is a list price, not the hub's)."""
    best = None
    for lg in side.ctx.logs_by_sub.get(sub.id, []):  # in date order
        if lg.status == "active" and lg.unit_price is not None and lg.effective_date <= day:
            best = (lg.unit_price, lg.id)
    return best


# -- what PSA Bridge last wrote ---------------------------------------------------------------------
@dataclass
class Written:
    """Per Autotask record: the values PSA Bridge last wrote into each field, and how it created it."""

    fields: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    created: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    when: dict[tuple[str, int], str] = field(default_factory=dict)


def last_written(session: Session, connector_id: int, entities: set[str]) -> Written:
    """From the journal's successful creates, updates and key links (later writes win)."""
    out = Written()
    rows = session.execute(
        select(
            JournalEntry.entity,
            JournalEntry.verb,
            JournalEntry.autotask_id,
            JournalEntry.body,
            JournalEntry.finished_at,
        )
        .where(
            JournalEntry.connector_id == connector_id,
            JournalEntry.entity.in_(sorted(entities)),
            JournalEntry.verb.in_(("create", "update", "link")),
            JournalEntry.outcome.in_(("done", "recovered")),
            JournalEntry.autotask_id.is_not(None),
        )
        .order_by(JournalEntry.id)
    )
    for entity, verb, autotask_id, body, finished in rows:
        if not isinstance(body, dict):
            continue
        key = (str(entity), int(autotask_id))
        if verb == "create":
            out.created.setdefault(key, dict(body))
        values = {k: v for k, v in body.items() if k != "id" and not isinstance(v, dict)}
        out.fields.setdefault(key, {}).update(values)
        if finished is not None:
            out.when[key] = finished.isoformat()
    return out
