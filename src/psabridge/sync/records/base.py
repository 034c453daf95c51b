"""What every record type of the sync shares: its declaration and the plan's building blocks.

A record module (``products``, ``customers``, ``agreements``, ``services``, ``changes``, ``charges``)
declares its :class:`RecordType` (Autotask entity, matching-key field, key code, tab), the fields it
reads back, which hub records have a key to look up, and a ``plan(ctx)`` that states, per hub record,
what it should look like in Autotask (:class:`Desired`) and its blocking rules.
:class:`psabridge.sync.records.context.PlanContext` turns that into operations and record statuses the
same way for every record type.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Where a record stands, as users see it on each row."""

    SYNCED = "synced"
    PENDING = "pending"
    NEEDS_LINK = "needs_link"
    BLOCKED = "blocked"
    WAITING = "waiting"
    ERROR = "error"
    #: pushed, but Autotask's own read-back (ContractServiceUnits) disagrees with the hub
    DRIFT = "drift"


#: Statuses whose record can be relied on by its dependants (it exists in Autotask, or will this plan).
USABLE = frozenset({Status.SYNCED, Status.PENDING, Status.DRIFT})
#: Statuses a run leaves for a person (or a later run) to deal with.
LEFT_OUT = (Status.NEEDS_LINK, Status.BLOCKED, Status.WAITING, Status.ERROR, Status.DRIFT)

#: Apply order: each phase (a PSA Integration tab) only references records of earlier phases.
PHASES: tuple[str, ...] = ("products", "customers", "agreements", "services", "changes", "charges")


@dataclass(frozen=True)
class RecordType:
    """How one kind of hub record maps onto Autotask."""

    name: str
    phase: str  # the PSA Integration tab / apply phase
    entity: str  # Autotask entity
    key_field: str | None  # Autotask field carrying the matching key (None: reconciled otherwise)
    code: str  # letter(s) used in the matching key
    #: fields the hub owns: sent on create and PATCHed when they change; nothing else is ever updated
    owned: frozenset[str] = frozenset()

    def key(self, organization_id: int, hub_id: int) -> str:
        """The matching key written into the Autotask record, e.g. ``PSB1-A42``.

        Short (Autotask number fields are limited), unique per organization and record and stable for
        the record's life, so a re-run or a recovery after a crash finds the record by one batched ``in``
        query instead of guessing by name (name alone never links).
        """
        return f"PSB{organization_id}-{self.code}{hub_id}"


def ref(record_type: str, hub_id: int) -> str:
    """A reference to another record's Autotask id, resolved when the operation runs."""
    return f"{record_type}:{hub_id}"


def parse_ref(value: str) -> tuple[str, int]:
    record_type, _, hub_id = value.rpartition(":")
    return record_type, int(hub_id)


@dataclass(frozen=True)
class Operation:
    """One Autotask write (or a free DB-only ``link`` of a record found by its matching key).

    ``body`` and ``parent`` may hold references ``"record_type:hub_id"`` (under the key ``"$ref"``) to
    records created earlier in the same plan; ``apply`` resolves them from the links as it goes.
    """

    op_id: str
    phase: str
    verb: str  # create | update | adjust | link
    entity: str
    record_type: str
    hub_id: int
    label: str
    body: dict[str, Any]
    parent: Any = None  # int, {"$ref": ...} or None
    matching_key: str | None = None
    fingerprint: str | None = None
    #: further records this write covers (e.g. two same-day change logs merged into one adjustment)
    covers: tuple[tuple[str, int], ...] = ()
    #: adjustments: the contract service's units at the effective date once this write happened
    units_after: int | None = None
    autotask_id: int | None = None  # known target (update/link)
    summary: str = ""
    #: a second contract service of the same service (Allow Duplicated Services): Autotask only adds it
    #: through an adjustment with ``allowRepeatService`` (``body`` is that adjustment, carrying the first
    #: units); ``apply`` then finds the new contract service by one query of the contract's services.
    #: Autotask does not let its internalDescription be updated, so it carries no key: the link holds it.
    repeat: bool = False
    #: create-only values the link remembers (see ``SyncLink.created_with``)
    created_with: dict[str, Any] | None = None

    @property
    def cost(self) -> int:
        """API calls this operation costs."""
        if self.verb == "link":
            return 0
        return 2 if self.repeat else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "op_id": self.op_id,
            "phase": self.phase,
            "verb": self.verb,
            "entity": self.entity,
            "record_type": self.record_type,
            "hub_id": self.hub_id,
            "label": self.label,
            "summary": self.summary,
            "body": self.body,
            "parent": self.parent,
            "matching_key": self.matching_key,
            "covers": [list(c) for c in self.covers],
            "cost": self.cost,
        }


@dataclass(frozen=True)
class RecordStatus:
    """Where one hub record stands, with the reason when it is not (going to be) synced."""

    record_type: str
    hub_id: int
    label: str
    status: str
    reason: str | None = None
    autotask_id: int | None = None
    candidates: tuple[dict[str, Any], ...] = ()
    phase: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_type": self.record_type,
            "hub_id": self.hub_id,
            "label": self.label,
            "phase": self.phase,
            "status": self.status,
            "reason": self.reason,
            "autotask_id": self.autotask_id,
            "candidates": list(self.candidates),
        }


@dataclass
class Desired:
    """What one hub record should look like in Autotask."""

    record_type: str
    hub_id: int
    label: str
    owned: dict[str, Any]  # fields the hub owns (sent on create and on update)
    create_only: dict[str, Any]  # sent on create only (Autotask or people own them afterwards)
    parent: Any = None
    depends: tuple[str, ...] = ()  # refs that must be synced first
    covers: tuple[tuple[str, int], ...] = ()  # further records the create carries
    #: create-only values worth remembering on the link (a settings change may contradict them later)
    created_with: dict[str, Any] | None = None


def fingerprint(fields: dict[str, Any]) -> str:
    """SHA-256 of owned fields in canonical JSON: equal fingerprints mean nothing to write."""
    raw = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def at_date(d: date) -> str:
    """Autotask date-time for a calendar date (midnight, no offset: Autotask keeps date-only values)."""
    return f"{d.isoformat()}T00:00:00"


def money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def normal(value: Any) -> str:
    """Compare values read from Autotask with values we would send (dates, numbers, booleans)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, Decimal)):
        return f"{float(value):.4f}"
    text = str(value)
    if re.match(r"^\d{4}-\d{2}-\d{2}T", text):
        return text[:10]
    return text.strip()


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
