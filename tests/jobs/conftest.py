"""Fixtures of the scale-out tests: the sync tests' emulator and organization, Redis (db 13, a key prefix
per test, removed afterwards) and worker / scheduler processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from psabridge.config import Settings
from tests.sync.conftest import _sync_emulator, api, app_settings, emu, env, hub  # noqa: F401  (fixtures)
from tests.sync.support import SyncEnv

REDIS_URL = os.environ.get("PSABRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PSABRIDGE = str(Path(sys.executable).with_name("psabridge"))


@pytest.fixture()
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test only; its keys (and Dramatiq's) are deleted afterwards."""
    prefix = f"psabtest-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for pattern in (f"{prefix}:*", f"{prefix}-dramatiq*"):
        keys = list(client.scan_iter(match=pattern, count=500))
        if keys:
            client.delete(*keys)
    client.close()


@pytest.fixture()
def broker_settings(env: SyncEnv, redis_prefix: str) -> Settings:  # noqa: F811
    """The test's settings with the Redis broker on: short leases so a killed worker is noticed soon."""
    settings = env.app_settings.model_copy(
        update={
            "broker_url": REDIS_URL,
            "redis_prefix": redis_prefix,
            "worker_heartbeat_seconds": 2.0,
            "sync_lock_seconds": 3.0,
        }
    )
    env.app_settings = settings
    return settings


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``psabridge`` process with ``settings``."""
    out = dict(os.environ)
    out.update(
        {
            "PSABRIDGE_AUTOTASK_ZONE_URL": settings.autotask_zone_url,
            "PSABRIDGE_DATABASE_URL": settings.resolved_database_url(),
            "PSABRIDGE_DATA_DIR": str(settings.data_dir),
            "PSABRIDGE_BROKER_URL": settings.broker_url,
            "PSABRIDGE_REDIS_PREFIX": settings.redis_prefix,
            "PSABRIDGE_WORKER_HEARTBEAT_SECONDS": str(settings.worker_heartbeat_seconds),
            "PSABRIDGE_SYNC_LOCK_SECONDS": str(settings.sync_lock_seconds),
            "PSABRIDGE_CHANGE_SYNC_DELAY_SECONDS": "0",
            "PSABRIDGE_LOG_FORMAT": "json",
        }
    )
    out.update(extra)
    return out


@pytest.fixture()
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``spawn(settings, "worker", "--threads", "1")``: a ``psabridge`` process, stopped after the test
    (its stderr kept in tmp_path for a failing test's report)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{args[0]}-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [PSABRIDGE, *args], env=process_env(settings, **extra), stdout=log, stderr=subprocess.STDOUT
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, poll: float = 0.05) -> Any:
    """Poll until ``condition()`` is truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        time.sleep(poll)
