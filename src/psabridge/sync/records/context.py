"""The plan being made: its inputs, the statuses decided so far, and the generic upsert every record
module writes through (see :mod:`psabridge.sync.records.base` for the declarations it works with)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psabridge.connectors.settings import AutotaskConnectorSettings
from psabridge.sync.records.base import (
    USABLE,
    Desired,
    Operation,
    RecordStatus,
    RecordType,
    Status,
    fingerprint,
    normal,
    ref,
)
from psabridge.sync.snapshot import AutotaskView, HubChangeLog, HubSnapshot, LinkState


class PlanContext:
    """The inputs of one plan and what it has decided so far; every record module writes through it.

    Bookkeeping: each record gets one status; a record that is not usable (blocked, waiting, needs a
    link) makes its dependants "Waiting for <record>". The generic upsert decides create, update, adopt
    (found by key) or leave alone, the same way for every record type.
    """

    def __init__(
        self,
        hub: HubSnapshot,
        view: AutotaskView,
        links: dict[tuple[str, int], LinkState],
        settings: AutotaskConnectorSettings,
        types: dict[str, RecordType],
    ) -> None:
        self.hub = hub
        self.view = view
        self.links = links
        self.settings = settings
        self.types = types
        self.org = hub.organization_id
        self.ops: list[Operation] = []
        self.records: list[RecordStatus] = []
        #: ref -> None when usable by dependants (synced or created in this plan), else a waiting reason
        self.state: dict[str, str | None] = {}
        self.labels: dict[str, str] = {}
        self.products = {p.id: p for p in hub.products}
        self.accounts = {a.id: a for a in hub.accounts}
        self.contracts = {c.id: c for c in hub.contracts}
        self.logs_by_sub: dict[int, list[HubChangeLog]] = defaultdict(list)
        for log in sorted(hub.logs, key=lambda lg: (lg.effective_date, lg.id)):
            self.logs_by_sub[log.subscription_id].append(log)
        #: repeat contract services (Allow Duplicated Services): subscription id -> (units, change logs
        #: dated on its start) carried by the adjustment that adds it (set by ``services``)
        self.repeats: dict[int, tuple[int, tuple[HubChangeLog, ...]]] = {}

    # -- lookups -----------------------------------------------------------------------------------
    def key(self, record_type: str, hub_id: int) -> str:
        return self.types[record_type].key(self.org, hub_id)

    def link(self, record_type: str, hub_id: int) -> LinkState | None:
        return self.links.get((record_type, hub_id))

    def linked(self, record_type: str, hub_id: int) -> bool:
        link = self.links.get((record_type, hub_id))
        return link is not None and link.autotask_id is not None

    def synced(self, record_type: str, hub_id: int) -> bool:
        link = self.links.get((record_type, hub_id))
        return link is not None and link.status == Status.SYNCED

    # -- bookkeeping -------------------------------------------------------------------------------
    def record(
        self,
        record_type: str,
        hub_id: int,
        label: str,
        status: str,
        reason: str | None = None,
        autotask_id: int | None = None,
        candidates: tuple[dict[str, Any], ...] = (),
    ) -> None:
        r = ref(record_type, hub_id)
        self.labels[r] = label
        self.state[r] = None if status in USABLE else f"Waiting for {label}"
        phase = self.types[record_type].phase
        self.records.append(
            RecordStatus(record_type, hub_id, label, status, reason, autotask_id, candidates, phase)
        )

    def waiting_on(self, refs: tuple[str, ...]) -> str | None:
        for r in refs:
            if r not in self.state:
                return f"Waiting for {r}"
            reason = self.state[r]
            if reason is not None:
                return reason
        return None

    def block(self, d: Desired, reason: str) -> None:
        self.record(d.record_type, d.hub_id, d.label, Status.BLOCKED, reason)

    def too_long(self, entity: str, values: dict[str, Any]) -> str | None:
        """Why Autotask would refuse these values for their length (from its ``entityInformation/fields``),
        or None. Nothing is ever truncated silently: the record is blocked until the hub value is shortened."""
        lengths = self.view.facts.field_lengths.get(entity, {})
        for name, value in values.items():
            if not isinstance(value, str):
                continue
            limit = lengths.get(name.lower())
            if limit and len(value) > limit:
                return (
                    f"{entity} {name} is {len(value)} characters long, but Autotask allows at most {limit}: "
                    "shorten it in the billing hub"
                )
        return None

    # -- the generic upsert ------------------------------------------------------------------------
    def upsert(
        self, d: Desired, *, suggest: list[dict[str, Any]] | None = None, repeat: bool = False
    ) -> None:
        """Create, update, adopt (found by key) or leave alone one record."""
        waiting = self.waiting_on(d.depends)
        if waiting:
            self.record(d.record_type, d.hub_id, d.label, Status.WAITING, waiting)
            return
        rt = self.types[d.record_type]
        if not set(d.owned) <= rt.owned:  # a record module may only own what its type declares
            raise ValueError(f"{d.record_type} does not own {sorted(set(d.owned) - rt.owned)}")
        key = rt.key(self.org, d.hub_id)
        owned = dict(d.owned)
        if rt.key_field:
            owned[rt.key_field] = key
        fp = fingerprint(owned)
        link = self.links.get((d.record_type, d.hub_id))
        if link and link.autotask_id:
            self._linked(d, rt, owned, fp, link)
            return
        found = self.view.by_key.get((rt.entity, key))
        if found is not None:
            self._found(d, rt, owned, fp, key, found)
            return
        decision = link.decision if link else "auto"
        if suggest and decision == "auto":
            self.record(
                d.record_type,
                d.hub_id,
                d.label,
                Status.NEEDS_LINK,
                f"{len(suggest)} Autotask record(s) with the same name: link one or choose Add New",
                candidates=tuple(suggest),
            )
            return
        self._create(d, rt, owned, fp, key, repeat)

    def _linked(self, d: Desired, rt: RecordType, owned: dict[str, Any], fp: str, link: LinkState) -> None:
        """A linked record: unchanged -> synced (or still drifting); changed -> PATCH of owned fields."""
        if link.fingerprint == fp:
            status = Status.DRIFT if link.status == Status.DRIFT else Status.SYNCED
            reason = link.reason if status == Status.DRIFT else None
            self.record(d.record_type, d.hub_id, d.label, status, reason, autotask_id=link.autotask_id)
            return
        too_long = self.too_long(rt.entity, owned)
        if too_long:
            self.record(
                d.record_type, d.hub_id, d.label, Status.BLOCKED, too_long, autotask_id=link.autotask_id
            )
            return
        self.ops.append(
            Operation(
                op_id=f"update:{ref(d.record_type, d.hub_id)}:{fp[:12]}",
                phase=rt.phase,
                verb="update",
                entity=rt.entity,
                record_type=d.record_type,
                hub_id=d.hub_id,
                label=d.label,
                body={"id": link.autotask_id, **owned},
                parent=link.parent_autotask_id if d.parent is not None else None,
                matching_key=rt.key(self.org, d.hub_id),
                fingerprint=fp,
                autotask_id=link.autotask_id,
                summary=f"Update {rt.entity} #{link.autotask_id} ({', '.join(sorted(d.owned))})",
            )
        )
        self.record(d.record_type, d.hub_id, d.label, Status.PENDING, autotask_id=link.autotask_id)

    def _found(
        self, d: Desired, rt: RecordType, owned: dict[str, Any], fp: str, key: str, found: dict[str, Any]
    ) -> None:
        """Found in Autotask by its matching key (a lost answer, another installation): adopt it, and
        PATCH the owned fields that differ."""
        found_id = int(found["id"])
        same = all(normal(found.get(k)) == normal(v) for k, v in owned.items())
        too_long = None if same else self.too_long(rt.entity, owned)
        if too_long:
            self.record(d.record_type, d.hub_id, d.label, Status.BLOCKED, too_long, autotask_id=found_id)
            return
        self.ops.append(
            Operation(
                op_id=f"{'link' if same else 'update'}:{ref(d.record_type, d.hub_id)}:{fp[:12]}",
                phase=rt.phase,
                verb="link" if same else "update",
                entity=rt.entity,
                record_type=d.record_type,
                hub_id=d.hub_id,
                label=d.label,
                body={"id": found_id, **owned},
                parent=d.parent,
                matching_key=key,
                fingerprint=fp,
                autotask_id=found_id,
                covers=d.covers,
                summary=f"{'Link' if same else 'Link and update'} {rt.entity} #{found_id} (key {key})",
            )
        )
        self.record(d.record_type, d.hub_id, d.label, Status.PENDING, autotask_id=found_id)

    def _create(
        self, d: Desired, rt: RecordType, owned: dict[str, Any], fp: str, key: str, repeat: bool
    ) -> None:
        # a repeat contract service is added by an adjustment (its body), which carries no key
        body = dict(d.create_only) if repeat else {**d.create_only, **owned}
        too_long = self.too_long(rt.entity, body)
        if too_long:
            self.block(d, too_long)
            return
        self.ops.append(
            Operation(
                op_id=f"create:{ref(d.record_type, d.hub_id)}",
                phase=rt.phase,
                verb="create",
                entity=rt.entity,
                record_type=d.record_type,
                hub_id=d.hub_id,
                label=d.label,
                body=body,
                parent=None if repeat else d.parent,
                matching_key=None if repeat else key,
                fingerprint=fp,
                covers=d.covers,
                repeat=repeat,
                created_with=d.created_with,
                summary=f"Create {rt.entity} {d.label!r}"
                + (
                    " (a repeat of a service on the contract: added by an adjustment with its first units)"
                    if repeat
                    else ""
                ),
            )
        )
        self.record(d.record_type, d.hub_id, d.label, Status.PENDING)


#: A record module's planning step.
Planner = Callable[[PlanContext], None]


@dataclass(frozen=True)
class RecordModule:
    """What one record module declares (see the module docstring)."""

    name: str
    types: tuple[RecordType, ...]
    plan: Planner
    #: entity -> fields read back with a record found by key (id, key and the owned fields compared)
    include_fields: dict[str, list[str]] = field(default_factory=dict)
    #: hub ids per record type whose Autotask record carries a matching key (read by key when unlinked)
    hub_ids: Callable[[HubSnapshot], dict[str, list[int]]] = lambda hub: {}
