"""Limits across worker processes: RedisLimits shares the in-flight slots and the hourly usage through
Redis (skipped when no Redis answers on PSABRIDGE_REDIS_URL / 127.0.0.1:6379)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager

import pytest
import redis

from psabridge.autotask import (
    AutotaskClient,
    AutotaskCredentials,
    BudgetExhaustedError,
    RateLimitError,
    RetryPolicy,
)
from psabridge.autotask.limits import EndpointLimiter, LocalLimits
from psabridge.autotask.redis_limits import RedisLimits
from tests.autotask.conftest import Emu

REDIS_URL = os.environ.get("PSABRIDGE_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture()
def redis_client() -> Iterator[redis.Redis[bytes]]:
    client: redis.Redis[bytes] = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield client
    client.close()


@pytest.fixture()
def prefix(redis_client: redis.Redis[bytes]) -> Iterator[str]:
    value = f"psabridge-test:{uuid.uuid4().hex}"
    yield value
    keys = list(redis_client.scan_iter(f"{value}:*"))
    if keys:
        redis_client.delete(*keys)


def test_slots_are_shared_between_independent_backends(
    emu: Emu, credentials: AutotaskCredentials, redis_client: redis.Redis[bytes], prefix: str
) -> None:
    """Two backends (as two worker processes would have) never exceed 3 in flight together: no 429."""
    emu.set_latency(40)
    backends = [RedisLimits(redis.Redis.from_url(REDIS_URL), prefix=prefix) for _ in range(2)]
    clients = [
        AutotaskClient(credentials, zone_url=emu.zone_url, retry=RetryPolicy(max_attempts=1), limits=b)
        for b in backends
        for _ in range(2)
    ]
    errors: list[BaseException] = []

    def work(c: AutotaskClient) -> None:
        try:
            for i in range(3):
                c.get("Companies", i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients for _ in range(3)]  # 12 threads
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(c.stats.get("Companies", "get") for c in clients) == 36
    assert backends[0].in_flight(clients[0].limit_key, "Companies") == 0

    # Control: two processes each with its own in-memory limiter do exceed the limit together.
    separate = [_ProcessLocal(), _ProcessLocal()]
    clients = [
        AutotaskClient(credentials, zone_url=emu.zone_url, retry=RetryPolicy(max_attempts=1), limits=b)
        for b in separate
        for _ in range(2)
    ]
    threads = [threading.Thread(target=work, args=(c,)) for c in clients for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert any(isinstance(e, RateLimitError) for e in errors)


class _ProcessLocal(LocalLimits):
    """What one worker process has without Redis: its own limiter."""

    def __init__(self) -> None:
        self._limiter = EndpointLimiter()

    def slot(self, integration_code: str, endpoint: str, limit: int) -> AbstractContextManager[None]:
        return self._limiter.slot(integration_code, endpoint, limit)


def test_crashed_holder_frees_its_slot_after_the_lease(redis_client: redis.Redis[bytes], prefix: str) -> None:
    limits = RedisLimits(redis_client, prefix=prefix, lease_seconds=0.3)
    held = limits.slot("CODE", "Companies", 1)
    held.__enter__()  # never exited: the worker "crashed"
    start = time.monotonic()
    with limits.slot("CODE", "Companies", 1):
        waited = time.monotonic() - start
    assert 0.2 <= waited < 3


def test_hourly_usage_is_shared(
    emu: Emu, credentials: AutotaskCredentials, redis_client: redis.Redis[bytes], prefix: str
) -> None:
    a = AutotaskClient(
        credentials,
        zone_url=emu.zone_url,
        hourly_budget_cap=6,
        limits=RedisLimits(redis_client, prefix=prefix),
    )
    b = AutotaskClient(
        credentials,
        zone_url=emu.zone_url,
        hourly_budget_cap=6,
        limits=RedisLimits(redis.Redis.from_url(REDIS_URL), prefix=prefix),
    )
    a.count("Companies")  # ThresholdInformation + count
    b.count("Companies")
    a.count("Companies")
    b.count("Companies")
    a.count("Companies")  # 6 calls in the shared log
    with pytest.raises(BudgetExhaustedError):
        b.count("Companies")
    assert a.budget_usage()["own_calls_last_hour"] == 6
    assert a.stats.get("ThresholdInformation", "get") + b.stats.get("ThresholdInformation", "get") == 1


def test_the_threshold_refresh_lock_is_one_holders_until_its_lease_runs_out(
    redis_client: redis.Redis[bytes], prefix: str
) -> None:
    """One caller across processes reads ThresholdInformation at a time; a caller whose lease ran out
    (a slow reading) does not free the lock another caller took since, and releasing twice is harmless."""
    from psabridge.autotask.redis_limits import RedisTenantUsage

    mine = RedisTenantUsage(redis_client, prefix, "tenant", refresh_lease_seconds=0.3)
    other = RedisTenantUsage(redis.Redis.from_url(REDIS_URL), prefix, "tenant", refresh_lease_seconds=5)
    assert mine.refresh_lock.acquire(blocking=False)
    assert not other.refresh_lock.acquire(blocking=False)  # another process: not while mine holds it
    time.sleep(0.5)  # my reading was slow: the lease ran out
    assert other.refresh_lock.acquire(blocking=False)
    mine.refresh_lock.release()  # too late: must leave the other's lock alone (and not raise)
    assert not mine.refresh_lock.acquire(blocking=False)
    other.refresh_lock.release()
    other.refresh_lock.release()  # already released: nothing happens
    assert mine.refresh_lock.acquire(blocking=False)
    mine.refresh_lock.release()


def test_two_tenants_with_one_integration_code_do_not_share_slots(
    credentials: AutotaskCredentials, redis_client: redis.Redis[bytes], prefix: str
) -> None:
    """Autotask counts the 3 requests per endpoint in each tenant: two MSPs whose tenants PSA Bridge
    reaches with the same integration code get 3 each in flight at once (6 in all), not 3 together;
    each tenant alone never gets a 4th."""
    from psabridge.emulator.testing import running_emulator

    backend = RedisLimits(redis.Redis.from_url(REDIS_URL), prefix=prefix)
    code = credentials.integration_code
    other = AutotaskCredentials("psabridge-api@second-msp.example", "second-Secret-1", code)
    with (
        running_emulator(integration_code=code) as first_emu,  # the demo tenant
        running_emulator(
            username=other.username, secret="second-Secret-1", integration_code=code
        ) as second_emu,
    ):
        clients = [
            AutotaskClient(creds, zone_url=e.zone_url, retry=RetryPolicy(max_attempts=1), limits=backend)
            for creds, e in ((AutotaskCredentials(*first_emu.credentials), first_emu), (other, second_emu))
        ]
        for c in clients:
            c.get("Companies", 0)  # zone discovery and the first request before timing
        first_emu.control.set_latency(600)
        second_emu.control.set_latency(600)
        errors: list[BaseException] = []

        def work(c: AutotaskClient) -> None:
            try:
                c.get("Companies", 0)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(c,)) for c in clients for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)  # every request that got a slot is in flight now
        in_flight = [backend.in_flight(c.limit_key, "Companies") for c in clients]
        for t in threads:
            t.join()
        for c in clients:
            c.close()
    assert errors == []
    assert clients[0].limit_key != clients[1].limit_key
    assert in_flight == [3, 3]
