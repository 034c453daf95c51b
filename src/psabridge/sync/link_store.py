"""The links of one batch, read and written as plain rows (never as ORM objects).

Why: a batch of 5,000 subscriptions covers some 60,000 records (services, seat changes, reversals,
refunds…). Held as ORM ``SyncLink`` objects — with their identity map entries and change tracking — they
were most of a sync's memory (330 MB for a plan of 100,000 subscriptions). Here a batch's links are
frozen :class:`LinkState` copies, and what the plan and the run decide about them is written back with
prepared bulk statements keyed on the links' unique key (connector, record type, hub id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from psabridge.sync.journal import now
from psabridge.sync.keys import RECORD_TYPES
from psabridge.sync.models import SyncLink
from psabridge.sync.snapshot import LinkState

Key = tuple[str, int]
_LINKS = cast(Table, SyncLink.__table__)
_CHUNK = 2_000  # ids per `IN (...)`: well under SQLite's and PostgreSQL's parameter limits
_STATE_COLUMNS = (
    _LINKS.c.record_type,
    _LINKS.c.hub_id,
    _LINKS.c.autotask_id,
    _LINKS.c.parent_autotask_id,
    _LINKS.c.fingerprint,
    _LINKS.c.status,
    _LINKS.c.decision,
    _LINKS.c.reason,
    _LINKS.c.created_with,
    _LINKS.c.candidates,
)
_SET_STATUS = (
    update(_LINKS)
    .where(
        (_LINKS.c.connector_id == bindparam("key_connector"))
        & (_LINKS.c.record_type == bindparam("key_type"))
        & (_LINKS.c.hub_id == bindparam("key_hub"))
    )
    .values(
        status=bindparam("new_status"),
        reason=bindparam("new_reason"),
        updated_at=bindparam("new_updated_at"),
    )
)
_SET_PLANNED = _SET_STATUS.values(candidates=bindparam("new_candidates", type_=_LINKS.c.candidates.type))


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A record's new status (and reason; candidates only when the plan suggests Autotask records)."""

    record_type: str
    hub_id: int
    status: str
    reason: str | None
    candidates: list[dict[str, Any]] | None = None


def load(session: Session, connector_id: int, refs: Mapping[str, Iterable[int]]) -> dict[Key, LinkState]:
    """The links of some records (record type -> hub ids), one indexed query per 2,000 ids."""
    out: dict[Key, LinkState] = {}
    for record_type, ids in refs.items():
        wanted = sorted(set(ids))
        for i in range(0, len(wanted), _CHUNK):
            rows = session.execute(
                select(*_STATE_COLUMNS).where(
                    _LINKS.c.connector_id == connector_id,
                    _LINKS.c.record_type == record_type,
                    _LINKS.c.hub_id.in_(wanted[i : i + _CHUNK]),
                )
            )
            for row in rows:
                state = LinkState(**row._asdict())
                out[(state.record_type, state.hub_id)] = state
    return out


def save_planned(
    session: Session,
    organization_id: int,
    connector_id: int,
    changes: Sequence[StatusChange],
    existing: Mapping[Key, LinkState],
) -> None:
    """Write the plan's statuses: new links inserted, existing ones updated only where they changed."""
    stamp = now()
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for c in changes:
        link = existing.get((c.record_type, c.hub_id))
        candidates = list(c.candidates or [])
        if link is None:
            new_rows.append(
                {
                    "organization_id": organization_id,
                    "connector_id": connector_id,
                    "record_type": c.record_type,
                    "hub_id": c.hub_id,
                    "autotask_entity": RECORD_TYPES[c.record_type].entity,
                    "status": c.status,
                    "reason": c.reason,
                    "decision": "auto",
                    "candidates": candidates,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        elif (link.status, link.reason, link.candidates) != (c.status, c.reason, candidates):
            updates.append(_params(connector_id, c, stamp) | {"new_candidates": candidates})
    if new_rows:
        session.execute(insert(_LINKS), new_rows)
    if updates:
        session.execute(_SET_PLANNED, updates)


def set_statuses(session: Session, connector_id: int, changes: Iterable[StatusChange]) -> None:
    """Set the status and reason of existing links (a run's waiting and drift findings)."""
    stamp = now()
    params = [_params(connector_id, c, stamp) for c in changes]
    if params:
        session.execute(_SET_STATUS, params)


def current(
    session: Session, connector_id: int, record_type: str, hub_ids: Iterable[int]
) -> dict[int, LinkState]:
    """The links of ``hub_ids`` as they are now in the database (after a batch's writes)."""
    return {
        hub_id: state for (_, hub_id), state in load(session, connector_id, {record_type: hub_ids}).items()
    }


def _params(connector_id: int, c: StatusChange, stamp: Any) -> dict[str, Any]:
    return {
        "key_connector": connector_id,
        "key_type": c.record_type,
        "key_hub": c.hub_id,
        "new_status": c.status,
        "new_reason": c.reason,
        "new_updated_at": stamp,
    }
