"""Change-driven sync: a committed change of billing-hub records (REST API, import, Admin Hub pages)
schedules a sync of the organization's connector after the quiet period
(``PSABRIDGE_CHANGE_SYNC_DELAY_SECONDS``), bursts coalescing into one job (:func:`note_change`).

Installed on the web app's session factory (and the CLI's import): SQLAlchemy session events collect
the organizations whose hub records were added, changed or deleted — by the ORM, by ORM-level bulk
statements, or marked by the import (its bulk ``INSERT``/``UPDATE`` run on the connection) — and report
them once the transaction has committed.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from psabridge.config import Settings
from psabridge.hub.imports.runner import CHANGED_ORGS_KEY
from psabridge.hub.models import HubRecord

log = logging.getLogger(__name__)

_KEY = CHANGED_ORGS_KEY
_HUB_TABLES = frozenset(
    m.class_.__tablename__ for m in HubRecord.registry.mappers if issubclass(m.class_, HubRecord)
)


def _changed(session: Session) -> set[int]:
    found: set[int] = session.info.setdefault(_KEY, set())
    return found


def _hub_orgs(objects: Any) -> set[int]:
    return {
        int(obj.organization_id)
        for obj in objects
        if isinstance(obj, HubRecord) and getattr(obj, "organization_id", None) is not None
    }


def install_change_hook(factory: sessionmaker[Session], settings: Settings) -> None:
    """Report the organizations whose hub records a committed transaction of ``factory`` changed."""
    if settings.change_sync_delay_seconds <= 0:
        return

    def before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
        _changed(session).update(_hub_orgs([*session.new, *session.dirty, *session.deleted]))

    def on_execute(state: ORMExecuteState) -> None:
        if not (state.is_insert or state.is_update or state.is_delete):
            return
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) not in _HUB_TABLES:
            return
        params = state.parameters
        rows = params if isinstance(params, list) else [params or {}]
        _changed(state.session).update(
            int(row["organization_id"])
            for row in rows
            if isinstance(row, dict) and row.get("organization_id")
        )

    def after_commit(session: Session) -> None:
        orgs = session.info.pop(_KEY, set())
        if not orgs:
            return
        from psabridge.jobs.service import note_change

        for organization_id in sorted(orgs):
            try:
                note_change(factory, settings, organization_id)
            except Exception:  # the change is committed; a missed sync is caught by the next one
                log.exception(
                    "could not schedule the sync after a change of organization %s", organization_id
                )

    def after_rollback(session: Session) -> None:
        session.info.pop(_KEY, None)

    event.listen(factory, "before_flush", before_flush)
    event.listen(factory, "do_orm_execute", on_execute)
    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_soft_rollback", lambda session, _tx: after_rollback(session))
