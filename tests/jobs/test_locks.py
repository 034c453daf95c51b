"""The connector's Redis sync lock: exclusive, extended while held, freed by its lease when the holder
died."""

from __future__ import annotations

import time

import pytest
import redis

from psabridge.config import Settings
from psabridge.jobs.locks import connector_sync_lock, key, lock_held
from psabridge.sync.runlock import AlreadyRunning
from tests.jobs.conftest import REDIS_URL


@pytest.fixture()
def lock_settings(redis_prefix: str) -> Settings:
    return Settings(broker_url=REDIS_URL, redis_prefix=redis_prefix, sync_lock_seconds=2.0)


def test_one_holder_at_a_time_and_the_lease_is_extended(lock_settings: Settings) -> None:
    with connector_sync_lock(lock_settings, 7):
        with pytest.raises(AlreadyRunning), connector_sync_lock(lock_settings, 7):
            pass
        with connector_sync_lock(lock_settings, 8):  # another connector is independent
            pass
        time.sleep(3.0)  # longer than the lease: the heartbeat kept it
        assert lock_held(lock_settings, 7)
        with pytest.raises(AlreadyRunning), connector_sync_lock(lock_settings, 7):
            pass
    assert not lock_held(lock_settings, 7)
    with connector_sync_lock(lock_settings, 7):
        pass


def test_a_dead_holders_lock_frees_itself_after_its_lease(lock_settings: Settings) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    dead = client.lock(key(lock_settings, "sync-lock", 9), timeout=1.0)  # held, never extended
    assert dead.acquire(blocking=False)
    with pytest.raises(AlreadyRunning), connector_sync_lock(lock_settings, 9):
        pass
    time.sleep(1.2)
    with connector_sync_lock(lock_settings, 9):
        assert lock_held(lock_settings, 9)
    client.close()


def test_without_a_broker_there_is_no_redis_lock() -> None:
    settings = Settings(broker_url="")
    with connector_sync_lock(settings, 1), connector_sync_lock(settings, 1):
        assert not lock_held(settings, 1)
