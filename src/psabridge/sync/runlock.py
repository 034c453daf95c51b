"""One sync per connector at a time, across threads *and* processes (CLI, web app, workers).

Two concurrent syncs of one organization would both see a record as missing and both create it. The
lock is taken where the data lives: a PostgreSQL advisory lock (released when its connection closes,
also when the process dies), or an exclusive ``flock`` on a file next to the SQLite database (released
by the OS when the process dies). Inside one process a plain lock guards threads.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

_THREAD_LOCKS: dict[int, threading.Lock] = {}
_ADVISORY_NAMESPACE = 0x5053_4200  # "PSB\0": keeps our advisory keys apart from other applications'


class AlreadyRunning(Exception):
    """Another sync of this connector is running."""


@contextmanager
def connector_lock(engine: Engine, connector_id: int) -> Iterator[None]:
    """Hold the connector's sync lock for the duration of the block, or raise :class:`AlreadyRunning`."""
    thread_lock = _THREAD_LOCKS.setdefault(connector_id, threading.Lock())
    if not thread_lock.acquire(blocking=False):
        raise AlreadyRunning
    try:
        with _process_lock(engine, connector_id):
            yield
    finally:
        thread_lock.release()


@contextmanager
def _process_lock(engine: Engine, connector_id: int) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = _ADVISORY_NAMESPACE + connector_id
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise AlreadyRunning
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    path = Path(f"{database}.sync-{connector_id}.lock")
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
