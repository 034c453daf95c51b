"""Before a reconciliation reads, or approved fixes are written: one at a time, and no write in doubt.

Both take the connector's sync lock (a sync half-way through a push would be reported as differences, and
two writers could both correct the same seats), then resolve the journal's writes whose outcome is not
known (a killed push or fix apply) exactly as the sync does: by reading Autotask (keys, the units on the
effective date) before anything is compared or written again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from psabridge.sync import journal as jr
from psabridge.sync.reader import AutotaskApi, read_view
from psabridge.sync.runlock import AlreadyRunning, connector_lock
from psabridge.sync.snapshot import HubSnapshot


class Busy(Exception):
    """A sync (or another reconciliation) of this connector is running."""


@contextmanager
def exclusive(session: Session, connector_id: int) -> Iterator[None]:
    """Hold the connector's sync lock, or raise :class:`Busy`."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    try:
        with connector_lock(engine, connector_id):
            yield
    except AlreadyRunning:
        raise Busy(
            "A sync or reconciliation of this organization is running; try again when it has finished"
        ) from None


def journal_estimate(session: Session, connector_id: int) -> int:
    """Queries :func:`settle_journal` will make (0 when no write is in doubt)."""
    entries = jr.unresolved_entries(session, connector_id)
    if not entries:
        return 0
    services, keys = jr.reconcile_needs(entries)
    repeats = jr.repeat_contracts(entries)
    return len({entity for entity, _ in keys}) + (1 if services or repeats else 0) + (1 if repeats else 0)


def settle_journal(session: Session, organization_id: int, connector_id: int, client: AutotaskApi) -> int:
    """Resolve writes in doubt (the sync's reconciliation); returns the API calls it took."""
    entries = jr.unresolved_entries(session, connector_id)
    if not entries:
        return 0
    services, keys = jr.reconcile_needs(entries)
    links = jr.load_links(session, connector_id)
    view = read_view(
        client,
        HubSnapshot(organization_id),
        jr.link_states(links),
        unit_services=services,
        extra_keys=keys,
        repeat_contracts=jr.repeat_contracts(entries),
        need_facts=False,
    )
    linked = [
        int(link.autotask_id)
        for (record_type, _), link in links.items()
        if record_type == "subscription" and link.autotask_id is not None
    ]
    jr.reconcile(session, entries, view, linked)
    return view.read_calls
