"""Counts of the big PSA Integration tabs, remembered until the data they count changes.

A tab's counts per status are exact (a ``GROUP BY`` over the tab's rows joined to their sync links), but
on the Changes tab of an organization with 100,000 subscriptions that is ~350,000 rows: about a second
on SQLite. The counts only change when a hub record or a sync link of the organization does, so they are
kept per process and reused while the organization's *data version* is unchanged: for each table the
tabs count (sync links and the hub's records), the highest id and the latest ``updated_at`` — one
statement of index lookups (``(organization_id, id)`` and ``(organization_id, updated_at)`` indexes).
Inserts raise an id, updates (ORM or Core ``update()``) set ``updated_at``; hub records and links are
never deleted one by one (only with their organization or connector). Entries also expire after
:data:`TTL` seconds, so a change committed out of timestamp order by a concurrent writer cannot keep a
stale count for longer than that.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from psabridge.hub import models as hub
from psabridge.sync.models import SyncLink

T = TypeVar("T")
TTL = 30.0
MAX_ENTRIES = 512
#: the tables whose rows the tabs count
TABLES: tuple[Any, ...] = (
    SyncLink,
    hub.Account,
    hub.Contact,
    hub.Product,
    hub.BillingContract,
    hub.Subscription,
    hub.LicenseChangeLog,
)

_lock = threading.Lock()
_entries: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], float, Any]] = OrderedDict()


def data_version(session: Session, organization_id: int) -> tuple[Any, ...]:
    """What changes whenever a record the tabs count is added or changed (one statement)."""
    columns = []
    for model in TABLES:
        where = model.organization_id == organization_id
        columns.append(select(func.max(model.id)).where(where).scalar_subquery())
        columns.append(select(func.max(model.updated_at)).where(where).scalar_subquery())
    return tuple(session.execute(select(*columns)).one())


def cached(session: Session, organization_id: int, what: str, compute: Callable[[], T]) -> T:
    """``compute()``, or its value from an earlier call with the same data version (and database)."""
    bind = session.get_bind()
    key = (str(bind.engine.url), organization_id, what)
    version = data_version(session, organization_id)
    now = time.monotonic()
    with _lock:
        hit = _entries.get(key)
        if hit is not None and hit[0] == version and now - hit[1] < TTL:
            _entries.move_to_end(key)
            value: T = hit[2]
            return value
    value = compute()
    with _lock:
        _entries[key] = (version, now, value)
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
