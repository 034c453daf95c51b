"""Differences and proposed fixes as plain values, before they are stored.

Comparison code builds these; the service stores them (``ReconcileDifference``/``ReconcileFix``). The
wording of a fix says what applying it writes, what it costs, and whether it overwrites a change a person
made in Autotask; "leave as is and accept Autotask's value" is offered wherever Autotask's value could be
right.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from psabridge.sync.records.base import normal

# Categories of difference, in the order the Reconcile tab lists them.
SEATS = "seats"
PRICE = "price"
MISSING = "missing"
INACTIVE = "inactive"
RETYPED = "retyped"
OWNED_FIELD = "owned_field"
UNEXPLAINED = "unexplained_service"
UNLINKED = "unlinked"
NOT_IN_AUTOTASK = "not_in_autotask"
DRIFT = "drift"

CATEGORIES: dict[str, str] = {
    SEATS: "Seats on the date",
    PRICE: "Price on the date",
    MISSING: "Linked record missing",
    INACTIVE: "Linked record inactive",
    RETYPED: "Linked record re-typed",
    OWNED_FIELD: "Owned field changed",
    UNEXPLAINED: "Contract service no subscription explains",
    UNLINKED: "In Autotask under its key, not linked",
    NOT_IN_AUTOTASK: "Hub record not in Autotask",
    DRIFT: "Read-back drift of the last push",
}

# Who made the two sides differ.
PERSON = "person"  # Autotask no longer holds what PSA Bridge wrote; the hub did not change
HUB = "hub"  # the hub changed since PSA Bridge last wrote; Autotask still holds what was written
BOTH = "both"
UNKNOWN = "unknown"  # PSA Bridge has no record of writing it

CHANGED_BY: dict[str, str] = {
    PERSON: "changed in Autotask",
    HUB: "changed in the hub (not pushed yet)",
    BOTH: "changed in both",
    UNKNOWN: "PSA Bridge never wrote it",
    "": "",
}

# Kinds of fix.
ADJUST = "adjust"  # a ContractServiceAdjustment (seats and/or price) dated on the reconciled date
WRITE_BACK = "write_back"  # PATCH one field back to the hub's (or the created) value
RELINK = "relink"  # link the hub record to the Autotask record carrying its key (no API call)
RECREATE = "recreate"  # forget the link: the next push creates the record again
PUSH = "push"  # what the sync would write for this record, applied through the sync (only these records)
ACCEPT = "accept"  # leave it as is: the difference is not reported again while both values stay
GUIDE = "guide"  # advice only (e.g. link it on its tab): nothing to approve

#: kinds that write to Autotask through the journaled applier
WRITES = (ADJUST, WRITE_BACK, RELINK)


@dataclass(frozen=True)
class FixSpec:
    kind: str
    summary: str
    cost: int = 0
    overwrites_person: bool = False
    params: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def approvable(self) -> bool:
        return self.kind != GUIDE


@dataclass
class Found:
    """One difference as compared, with its proposed fixes."""

    category: str
    label: str
    autotask_entity: str = ""
    autotask_id: int | None = None
    record_type: str | None = None
    hub_id: int | None = None
    subscription_id: int | None = None
    field: str | None = None
    autotask_value: Any = None
    hub_value: Any = None
    last_written: Any = None
    changed_by: str = ""
    detail: str = ""
    evidence: dict[str, Any] = dc_field(default_factory=dict)
    fixes: list[FixSpec] = dc_field(default_factory=list)

    @property
    def signature(self) -> str:
        """The same difference with the same values (what an acceptance is matched against)."""
        raw = json.dumps(
            [
                self.category,
                self.record_type,
                self.hub_id,
                self.autotask_entity,
                self.autotask_id,
                self.field,
                _canonical(self.autotask_value),
                _canonical(self.hub_value),
            ],
            default=str,
        )
        return hashlib.sha256(raw.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return normal(value)


def accept(what: str = "Autotask's value") -> FixSpec:
    return FixSpec(
        ACCEPT,
        f"Leave as is and accept {what}: no API call; not reported again while both values stay the same",
    )


def changed_by(autotask: Any, hub: Any, last: Any, *, known: bool) -> str:
    """Who made Autotask and the hub differ, from what PSA Bridge last wrote (``known``: it wrote it)."""
    if not known:
        return UNKNOWN
    if normal(autotask) == normal(last):
        return HUB
    if normal(hub) == normal(last):
        return PERSON
    return BOTH
