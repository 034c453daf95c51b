"""The Dramatiq side: a Redis broker per ``PSABRIDGE_BROKER_URL`` with the one actor that runs a job by
id, and the worker that ``psabridge worker`` starts (Dramatiq's :class:`dramatiq.Worker`, in process).

Messages carry only the job id; everything else is in the ``jobs`` row. The actor never retries on its
own (``max_retries=0``): a failure is recorded on the job and notified. A worker that dies with a
message in hand stops sending heartbeats; after ``PSABRIDGE_WORKER_HEARTBEAT_SECONDS`` Dramatiq's queue
maintenance gives that message to another worker, which runs the job again (exactly once thanks to the
sync journal).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings, get_settings

log = logging.getLogger(__name__)

ACTOR = "psabridge_job"
QUEUE = "psabridge_jobs"
#: a sync of a very large organization may take hours; Dramatiq's default limit is 10 minutes
TIME_LIMIT_MS = 24 * 3600 * 1000

#: the settings of this worker process (``psabridge worker``); else the environment's
_worker_settings: list[Settings] = []


def _perform(job_id: int) -> None:
    from psabridge.jobs.service import execute

    settings = _worker_settings[0] if _worker_settings else get_settings()
    execute(_factory(settings.resolved_database_url()), settings, int(job_id))


@lru_cache(maxsize=4)
def _factory(url: str) -> sessionmaker[Session]:
    from psabridge.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url))


_lock = threading.Lock()
_brokers: dict[tuple[str, str, float], RedisBroker] = {}


def broker_for(settings: Settings) -> RedisBroker:
    """The broker of ``settings`` (created once per process) with the job actor declared on it."""
    key = (settings.broker_url, settings.redis_prefix, settings.worker_heartbeat_seconds)
    with _lock:
        broker = _brokers.get(key)
        if broker is None:
            heartbeat_ms = int(settings.worker_heartbeat_seconds * 1000)
            broker = RedisBroker(  # type: ignore[no-untyped-call]
                url=settings.broker_url,
                namespace=f"{settings.redis_prefix}-dramatiq",
                heartbeat_timeout=heartbeat_ms,
                # one fetch in ten checks for dead workers' messages (cheap: one Lua script)
                maintenance_chance=100_000,
            )
            dramatiq.Actor(
                _perform,
                broker=broker,
                actor_name=ACTOR,
                queue_name=QUEUE,
                priority=0,
                options={"max_retries": 0, "time_limit": TIME_LIMIT_MS},
            )
            _brokers[key] = broker
        return broker


def send(settings: Settings, job_id: int, *, delay: float = 0.0) -> None:
    """Queue a message for the job (after ``delay`` seconds)."""
    actor = broker_for(settings).get_actor(ACTOR)
    actor.send_with_options(args=(job_id,), delay=int(delay * 1000) if delay > 0 else None)


def queue_depth(settings: Settings) -> int:
    """Messages waiting in Redis (ready and delayed) for the job queue."""
    from psabridge.jobs.locks import redis_client

    client = redis_client(settings.broker_url)
    namespace = f"{settings.redis_prefix}-dramatiq"
    return int(client.llen(f"{namespace}:{QUEUE}") + client.llen(f"{namespace}:{QUEUE}.DQ"))


def run_worker(settings: Settings, *, threads: int, stop: threading.Event) -> None:
    """Run a Dramatiq worker in this process until ``stop`` is set."""
    _worker_settings[:] = [settings]
    worker = dramatiq.Worker(broker_for(settings), worker_threads=threads, worker_timeout=500)
    worker.start()
    log.info("worker started: %s threads, queue %s", threads, QUEUE)
    try:
        stop.wait()
    finally:
        log.info("worker stopping")
        worker.stop(timeout=30_000)
