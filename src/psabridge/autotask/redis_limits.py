"""Autotask limits shared by every worker process through Redis.

Why: in the distributed deployment (several Dramatiq workers syncing for the same tenant) a per-process
limiter would let N workers x 3 requests hit one endpoint and get 429s, and each worker would see only
its own share of the hourly budget. :class:`RedisLimits` keeps the in-flight slots and the call log in
Redis so the limits hold across processes and machines.

Slots are leases in a sorted set (score = expiry), taken and released atomically with Lua, so a crashed
worker's slots free themselves after ``lease_seconds``. Calls are a sorted set of timestamps per tenant.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import redis
from redis.exceptions import LockError, LockNotOwnedError

from psabridge.autotask.limits import DEFAULT_HOURLY_THRESHOLD, LimitsBackend, UsageTracker

log = logging.getLogger(__name__)

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class _RefreshLock:
    """The one caller refreshing a tenant's ``ThresholdInformation``, across processes: redis-py's own
    :class:`redis.lock.Lock` (a token per holder, released atomically), with the ``acquire(blocking=False)``
    / ``release()`` shape of :class:`threading.Lock` the client uses.

    The token is per thread (redis-py's ``thread_local``), so a holder whose lease ran out cannot free the
    lock another caller took since: its release finds the lock no longer its own and leaves it alone.
    """

    def __init__(self, client: redis.Redis[bytes], key: str, lease_seconds: float = 30.0) -> None:
        self._lock = client.lock(key, timeout=lease_seconds, blocking=False)

    def acquire(self, blocking: bool = True) -> bool:
        return bool(self._lock.acquire(blocking=blocking))

    def release(self) -> None:
        try:
            self._lock.release()
        except LockNotOwnedError:
            # the lease ran out during a slow reading and someone else holds it now: theirs to release
            log.debug("refresh lock %s expired before release", self._lock.name)
        except LockError:
            log.debug("refresh lock %s was not held", self._lock.name)


class RedisTenantUsage(UsageTracker):
    """A tenant's hourly usage in Redis: own calls (sorted set of timestamps) and the last reading."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        prefix: str,
        tenant_key: str,
        window_hint: float = 3600.0,
        refresh_lease_seconds: float = 30.0,
    ) -> None:
        self._client = client
        self._calls = f"{prefix}:calls:{tenant_key}"
        self._reading = f"{prefix}:reading:{tenant_key}"
        self._ttl = int(window_hint) + 120
        self.refresh_lock = _RefreshLock(client, f"{prefix}:refresh:{tenant_key}", refresh_lease_seconds)

    def now(self) -> float:
        return time.time()

    @property
    def threshold(self) -> int:  # type: ignore[override]
        raw = self._client.hget(self._reading, "threshold")
        return int(raw) if raw else DEFAULT_HOURLY_THRESHOLD

    def record(self) -> None:
        now = self.now()
        pipe = self._client.pipeline()
        pipe.zadd(self._calls, {f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
        pipe.expire(self._calls, self._ttl)
        pipe.execute()

    def observe_threshold(self, info: dict[str, Any]) -> None:
        mapping: dict[str | bytes, bytes | float | int | str] = {}
        threshold = info.get("externalRequestThreshold")
        if isinstance(threshold, int) and threshold > 0:
            mapping["threshold"] = threshold
        count = info.get("currentTimeframeRequestCount")
        if isinstance(count, int):
            mapping["count"] = count
            mapping["at"] = self.now()
        if mapping:
            self._client.hset(self._reading, mapping=mapping)
            self._client.expire(self._reading, self._ttl)

    def mark_attempt(self) -> None:
        self._client.hset(self._reading, mapping={"at": self.now()})
        self._client.expire(self._reading, self._ttl)

    def _reading_at(self) -> float | None:
        raw = self._client.hget(self._reading, "at")
        return float(raw) if raw else None

    def calls_since_reading(self) -> int | None:
        at = self._reading_at()
        if at is None:
            return None
        return int(self._client.zcount(self._calls, f"({at}", "+inf"))

    def own_calls(self, window: float) -> int:
        now = self.now()
        self._client.zremrangebyscore(self._calls, "-inf", now - window)
        return int(self._client.zcard(self._calls))

    def oldest_call(self, window: float) -> float | None:
        rows = self._client.zrangebyscore(
            self._calls, self.now() - window, "+inf", start=0, num=1, withscores=True
        )
        return float(rows[0][1]) if rows else None

    def estimated_tenant_calls(self, window: float) -> int:
        own = self.own_calls(window)
        raw = self._client.hmget(self._reading, ["count", "at"])
        if raw[0] is None or raw[1] is None:
            return own
        since = int(self._client.zcount(self._calls, f"({float(raw[1])}", "+inf"))
        return max(int(raw[0]) + since, own)


class RedisLimits(LimitsBackend):
    """Concurrency slots and hourly usage shared through Redis by every worker process."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        *,
        prefix: str = "psabridge:autotask",
        lease_seconds: float = 120.0,
        poll_seconds: float = 0.01,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._lease = lease_seconds
        self._poll = poll_seconds
        self._acquire = client.register_script(_ACQUIRE)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisLimits:
        """Connect to ``redis://host:port/db``."""
        return cls(redis.Redis.from_url(url), **kwargs)

    def _key(self, integration_code: str, endpoint: str) -> str:
        return f"{self._prefix}:slots:{integration_code}:{endpoint.lower()}"

    def in_flight(self, integration_code: str, endpoint: str) -> int:
        key = self._key(integration_code, endpoint)
        return int(self._client.zcount(key, time.time(), "+inf"))

    def slot(self, integration_code: str, endpoint: str, limit: int) -> AbstractContextManager[None]:
        return self._slot(integration_code, endpoint, limit)

    @contextmanager
    def _slot(self, integration_code: str, endpoint: str, limit: int) -> Iterator[None]:
        key = self._key(integration_code, endpoint)
        token = uuid.uuid4().hex
        ttl_ms = int(self._lease * 1000) + 1000
        while True:
            now = time.time()
            if self._acquire(keys=[key], args=[now, now + self._lease, max(1, limit), token, ttl_ms]):
                break
            time.sleep(self._poll * (0.5 + random.random()))
        try:
            yield
        finally:
            self._client.zrem(key, token)

    def usage(self, tenant_key: str) -> UsageTracker:
        return RedisTenantUsage(self._client, self._prefix, tenant_key)


__all__ = ["RedisLimits", "RedisTenantUsage"]
