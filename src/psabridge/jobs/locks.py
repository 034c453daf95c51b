"""Redis connections and the connector's sync lock across workers and nodes.

The lock is redis-py's :class:`redis.lock.Lock` (a lease with a token, released only by its holder),
extended by a heartbeat thread every third of its lease while the sync runs, so a killed worker's lock
frees itself after at most one lease. The database guard of :mod:`psabridge.sync.runlock` stays inside
(it also covers syncs started without a broker).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import redis
from redis.exceptions import LockError

from psabridge.config import Settings
from psabridge.sync.runlock import AlreadyRunning

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def redis_client(url: str) -> redis.Redis[bytes]:
    """One connection pool per Redis URL in this process."""
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


def key(settings: Settings, *parts: object) -> str:
    """A Redis key of this installation (``PSABRIDGE_REDIS_PREFIX``)."""
    return ":".join([settings.redis_prefix, *(str(p) for p in parts)])


@contextmanager
def connector_sync_lock(settings: Settings, connector_id: int) -> Iterator[None]:
    """Hold the connector's Redis lock for the block, or raise :class:`AlreadyRunning`. Without a broker
    (one process) there is nothing to share: the block runs under the database guard only."""
    if not settings.broker_url:
        yield
        return
    client = redis_client(settings.broker_url)
    lease = settings.sync_lock_seconds
    lock = client.lock(key(settings, "sync-lock", connector_id), timeout=lease, thread_local=False)
    if not lock.acquire(blocking=False):
        raise AlreadyRunning
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(lease / 3):
            try:
                lock.extend(lease, replace_ttl=True)
            except (LockError, redis.RedisError):
                log.warning("connector %s: could not extend the sync lock", connector_id, exc_info=True)

    beat = threading.Thread(target=heartbeat, name=f"sync-lock-{connector_id}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(timeout=5)
        try:
            lock.release()
        except LockError:
            log.warning("connector %s: the sync lock had expired before it was released", connector_id)


def lock_held(settings: Settings, connector_id: int) -> bool:
    """Whether some worker holds the connector's Redis lock (for tests and the jobs page)."""
    if not settings.broker_url:
        return False
    return bool(redis_client(settings.broker_url).exists(key(settings, "sync-lock", connector_id)))
