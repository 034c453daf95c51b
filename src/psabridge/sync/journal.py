"""The write journal and the links it keeps up to date: exactly-once without idempotency keys.

Every write is journaled in its own committed transaction *before* the call (intent) and again after it
(outcome). An intent without outcome (the process was killed), or with outcome ``unknown`` (a response
was lost) or ``failed`` (Autotask answered with an error: it may still have written), is *reconciled* at
the start of the next run by reading Autotask: by matching key for records, through ContractServiceUnits
for adjustments. Only then may the planner plan the write again.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from psabridge.sync.keys import RECORD_TYPES
from psabridge.sync.models import JournalEntry, SyncLink
from psabridge.sync.reader import units_at
from psabridge.sync.run_results import mark_written
from psabridge.sync.snapshot import AutotaskView, LinkState

IN_FLIGHT = None
DONE = "done"
FAILED = "failed"
UNKNOWN = "unknown"
#: After reconciliation: the write had happened after all / had not happened.
RECOVERED = "recovered"
ABSENT = "absent"
#: Never sent (budget exhausted, rate limited before execution).
NOT_SENT = "not_sent"
UNRESOLVED = (FAILED, UNKNOWN)


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


def load_links(session: Session, connector_id: int) -> dict[tuple[str, int], SyncLink]:
    rows = session.scalars(
        select(SyncLink)
        .where(SyncLink.connector_id == connector_id)
        .execution_options(populate_existing=True)  # links are also changed by bulk UPDATEs
    )
    return {(r.record_type, r.hub_id): r for r in rows}


def linked_contract_services(session: Session, connector_id: int) -> list[int]:
    """Contract services linked to a hub subscription (never taken for a lost repeat)."""
    return [
        i
        for (i,) in session.execute(
            select(SyncLink.autotask_id).where(
                SyncLink.connector_id == connector_id,
                SyncLink.record_type == "subscription",
                SyncLink.autotask_id.is_not(None),
            )
        )
        if i is not None
    ]


def link_states(links: dict[tuple[str, int], SyncLink]) -> dict[tuple[str, int], LinkState]:
    return {
        k: LinkState(
            record_type=r.record_type,
            hub_id=r.hub_id,
            autotask_id=r.autotask_id,
            parent_autotask_id=r.parent_autotask_id,
            fingerprint=r.fingerprint,
            status=r.status,
            decision=r.decision,
            reason=r.reason,
            created_with=r.created_with,
        )
        for k, r in links.items()
    }


def get_or_create_link(
    session: Session, organization_id: int, connector_id: int, record_type: str, hub_id: int
) -> SyncLink:
    link = session.scalars(
        select(SyncLink).where(
            SyncLink.connector_id == connector_id,
            SyncLink.record_type == record_type,
            SyncLink.hub_id == hub_id,
        )
    ).first()
    if link is None:
        link = SyncLink(
            organization_id=organization_id,
            connector_id=connector_id,
            record_type=record_type,
            hub_id=hub_id,
            autotask_entity=RECORD_TYPES[record_type].entity,
            candidates=[],
        )
        session.add(link)
    return link


_ENTRY_COLUMNS = (
    "organization_id",
    "connector_id",
    "run_id",
    "op_id",
    "entity",
    "verb",
    "body_hash",
    "body",
    "matching_key",
    "parent_id",
    "covers",
    "outcome",
    "autotask_id",
    "error",
    "created_at",
    "finished_at",
)


# The journal's statements are built once with bound parameters: every write of a sync runs them (two
# or three per API call), and building an ORM-enabled statement per call (its cache key over the values)
# cost more CPU than the HTTP call it guards.
_ENTRIES = cast(Table, JournalEntry.__table__)
_LINKS = cast(Table, SyncLink.__table__)
_INSERT_ENTRY = insert(_ENTRIES)
_FINISH_ENTRY = (
    update(_ENTRIES)
    .where(_ENTRIES.c.id == bindparam("entry_id"))
    .values(
        outcome=bindparam("outcome"),
        autotask_id=bindparam("autotask_id"),
        error=bindparam("error"),
        finished_at=bindparam("finished_at"),
    )
)
_LINK_KEY = (
    (_LINKS.c.connector_id == bindparam("key_connector"))
    & (_LINKS.c.record_type == bindparam("key_type"))
    & (_LINKS.c.hub_id == bindparam("key_hub"))
)


def _kept(column: str) -> Any:
    """``column`` set to the parameter of the same name, or left as it is when that is NULL."""
    col = _LINKS.c[column]
    # a JSON column binds None as the JSON value null, which COALESCE would keep: bind it as SQL NULL
    kind = JSON(none_as_null=True) if isinstance(col.type, JSON) else col.type
    return func.coalesce(bindparam(f"new_{column}", type_=kind), col)


_MARK_SYNCED = (
    update(_LINKS)
    .where(_LINK_KEY)
    .values(
        status="synced",
        reason=None,
        candidates=bindparam("new_candidates", type_=_LINKS.c.candidates.type),
        op_id=bindparam("new_op_id"),
        autotask_id=_kept("autotask_id"),
        fingerprint=_kept("fingerprint"),
        created_with=_kept("created_with"),
        parent_autotask_id=_kept("parent_autotask_id"),
        matching_key=_kept("matching_key"),
        updated_at=bindparam("new_updated_at"),
    )
)


def insert_entry(session: Session, entry: JournalEntry) -> None:
    """Write ``entry`` (a transient carrier) as a new journal row and set its id."""
    values = {c: getattr(entry, c) for c in _ENTRY_COLUMNS}
    result = session.execute(_INSERT_ENTRY, values)
    entry.id = int(result.inserted_primary_key[0])  # type: ignore[attr-defined]


def finish_entry(
    session: Session,
    entry: JournalEntry,
    outcome: str,
    *,
    autotask_id: int | None = None,
    error: str | None = None,
) -> None:
    """Record the outcome of a journaled write."""
    entry.outcome, entry.autotask_id, entry.error, entry.finished_at = outcome, autotask_id, error, now()
    session.execute(
        _FINISH_ENTRY,
        {
            "entry_id": entry.id,
            "outcome": outcome,
            "autotask_id": autotask_id,
            "error": error,
            "finished_at": entry.finished_at,
        },
    )


def _update_link(session: Session, entry: JournalEntry, record_type: str, hub_id: int, **values: Any) -> None:
    """Set ``values`` on one link with a single UPDATE (links exist once a plan was saved); create the
    link when it does not exist yet."""
    values["updated_at"] = now()
    result = session.execute(
        update(_LINKS).where(_LINK_KEY).values(**values),
        {"key_connector": entry.connector_id, "key_type": record_type, "key_hub": hub_id},
    )
    if getattr(result, "rowcount", 1) == 0:
        _create_link(session, entry, record_type, hub_id, values)


def _create_link(
    session: Session, entry: JournalEntry, record_type: str, hub_id: int, values: dict[str, Any]
) -> None:
    link = get_or_create_link(session, entry.organization_id, entry.connector_id, record_type, hub_id)
    for key, value in values.items():
        setattr(link, key, value)


def mark_synced(session: Session, entry: JournalEntry, autotask_id: int | None) -> None:
    """Apply a successful (or recovered) write to the links it covers (one prepared UPDATE each)."""
    covers: dict[str, Any] = entry.covers or {}
    records = covers.get("records", [])
    for item in records:
        params: dict[str, Any] = {
            "key_connector": entry.connector_id,
            "key_type": item["record_type"],
            "key_hub": int(item["hub_id"]),
            "new_candidates": [],
            "new_op_id": entry.op_id,
            "new_autotask_id": autotask_id,
            "new_fingerprint": item.get("fingerprint"),
            "new_created_with": (covers.get("created_with") or None) if item is records[0] else None,
            "new_parent_autotask_id": covers.get("parent_autotask_id"),
            "new_matching_key": entry.matching_key or None,
            "new_updated_at": now(),
        }
        result = session.execute(_MARK_SYNCED, params)
        if getattr(result, "rowcount", 1) == 0:
            values = {
                k.removeprefix("new_"): v for k, v in params.items() if k.startswith("new_") and v is not None
            }
            values.update(status="synced", reason=None, candidates=[])
            _create_link(session, entry, item["record_type"], int(item["hub_id"]), values)


def mark_error(session: Session, entry: JournalEntry, message: str) -> None:
    covers: dict[str, Any] = entry.covers or {}
    for item in covers.get("records", []):
        _update_link(session, entry, item["record_type"], int(item["hub_id"]), status="error", reason=message)


def unresolved_entries(session: Session, connector_id: int) -> list[JournalEntry]:
    """Writes whose effect in Autotask is not known for sure."""
    return list(
        session.scalars(
            select(JournalEntry)
            .where(
                JournalEntry.connector_id == connector_id,
                (JournalEntry.outcome.is_(None)) | (JournalEntry.outcome.in_(UNRESOLVED)),
            )
            .order_by(JournalEntry.id)
        )
    )


def reconcile_needs(entries: Iterable[JournalEntry]) -> tuple[dict[int, set[str]], set[tuple[str, str]]]:
    """What must be read to reconcile: the units of contract services on the effective dates of their
    unresolved adjustments (date-filtered: one row each, not every billing period), and (entity, key)
    pairs of unresolved creates."""
    services: dict[int, set[str]] = defaultdict(set)
    keys: set[tuple[str, str]] = set()
    for e in entries:
        covers = e.covers or {}
        if e.verb == "adjust":
            sid = covers.get("contract_service_id")
            if sid:
                services[int(sid)].add(str(covers.get("effective_date", ""))[:10])
        elif e.verb in ("create", "charge") and e.matching_key:
            keys.add((e.entity, e.matching_key))
    return dict(services), keys


def repeat_of(entry: JournalEntry) -> dict[str, Any] | None:
    """For a repeat contract service (added by an adjustment): contract, service, effective date and
    units it was added with; else None."""
    if entry.entity != "ContractServices" or entry.verb != "create":
        return None
    covers = entry.covers or {}
    return dict(covers["repeat"]) if covers.get("repeat") else None


def repeat_contracts(entries: Iterable[JournalEntry]) -> dict[int, set[str]]:
    """Contracts whose contract services must be read to reconcile repeat services, with the dates
    (YYYY-MM-DD) their units must be read on."""
    out: dict[int, set[str]] = defaultdict(set)
    for e in entries:
        if (r := repeat_of(e)) is not None:
            out[int(r["contract_id"])].add(str(r["effective_date"])[:10])
    return dict(out)


def price_at(rows: list[dict[str, Any]], day: str) -> float | None:
    """Unit price of a contract service on ``day`` from its ContractServiceUnits rows."""
    best: tuple[str, Any] | None = None
    for row in rows:
        start = str(row.get("startDate") or "")[:10]
        end = str(row.get("endDate") or "9999-12-31")[:10]
        if start <= day <= end and (best is None or start >= best[0]):
            best = (start, row.get("price"))
    return None if best is None or best[1] is None else float(best[1])


def _unlinked_repeat(view: AutotaskView, repeat: dict[str, Any], claimed: set[int]) -> int | None:
    """The contract service a lost repeat write added: same contract and service, no key, not linked to
    any hub record, its units row on the adjustment's date starting that day with the units it was
    added with."""
    day = str(repeat["effective_date"])[:10]
    for row in sorted(view.contract_services.get(int(repeat["contract_id"]), []), key=lambda r: int(r["id"])):
        cs_id = int(row["id"])
        if cs_id in claimed or row.get("internalDescription"):
            continue
        if int(row.get("serviceID") or 0) != int(repeat["service_id"]):
            continue
        rows = [r for r in view.units.get(cs_id, []) if str(r.get("startDate") or "")[:10] == day]
        if rows and units_at(rows, day) == int(repeat["units"]):
            return cs_id
    return None


def _adjustment_happened(e: JournalEntry, view: AutotaskView) -> bool:
    """Units on the effective date equal the expected units (and the price, when the adjustment set
    one: a price-only adjustment changes no units, so the units alone would say "happened" either way)."""
    covers = e.covers or {}
    sid = covers.get("contract_service_id")
    rows = view.units.get(int(sid), []) if sid else []
    day = str(covers.get("effective_date", ""))[:10]
    units = units_at(rows, day)
    if units is None or units != covers.get("units_after"):
        return False
    price = covers.get("price_after", (e.body or {}).get("adjustedUnitPrice"))
    if price is None:
        return True
    actual = price_at(rows, day)
    return actual is not None and abs(actual - float(price)) < 0.005


def reconcile(
    session: Session, entries: Iterable[JournalEntry], view: AutotaskView, linked: Iterable[int] = ()
) -> int:
    """Decide, from what Autotask holds, whether each unresolved write happened. Returns how many did.

    ``linked``: contract services already linked to hub records (never taken for a lost repeat)."""
    recovered = 0
    claimed: set[int] = set(linked)  # contract services already attributed to a hub record
    for e in entries:
        happened = False
        found_id: int | None = None
        if (repeat := repeat_of(e)) is not None:
            found_id = _unlinked_repeat(view, repeat, claimed)
            if found_id is not None:
                happened = True
                claimed.add(found_id)
        elif e.verb in ("create", "charge") and e.matching_key:
            row = view.by_key.get((e.entity, e.matching_key))
            if row is not None:
                happened, found_id = True, int(row["id"])
        elif e.verb == "adjust":
            happened = _adjustment_happened(e, view)
            found_id = e.autotask_id
        # updates (PATCH of owned fields) are idempotent: re-planned and re-sent when still different
        if happened:
            e.outcome = RECOVERED
            e.autotask_id = found_id
            mark_synced(session, e, found_id)
            if e.run_id is not None:  # its run's page counts it as written by that run
                records = (e.covers or {}).get("records", [])
                mark_written(session, e.run_id, [(str(i["record_type"]), int(i["hub_id"])) for i in records])
            recovered += 1
        else:
            e.outcome = ABSENT
        e.finished_at = now()
    session.commit()
    return recovered
