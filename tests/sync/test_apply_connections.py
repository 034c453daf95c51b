"""The apply never holds a pooled database connection while it waits for another resource.

Found by the 500-customer benchmark: operations took their connection, then waited for the journal's
write lock, while the lock's holder waited for a connection: the pool ran dry and writes failed after
the pool timeout ("QueuePool limit … reached"). Reproduced here with a pool of 2 connections.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import sessionmaker

from psabridge.db import make_engine
from psabridge.sync import service
from tests.sync.support import Hub, SyncEnv


def test_a_sync_on_a_small_connection_pool_writes_everything(env: SyncEnv, hub: Hub) -> None:
    for n in range(6):
        acc = hub.account(f"Pool Customer {n}")
        contract = hub.contract(acc, start=date(2026, 1, 1))
        for _ in range(2):
            hub.subscription(contract, hub.product(), quantity=2 + n)
    engine = make_engine(
        env.app_settings.resolved_database_url(), pool_size=2, max_overflow=0, pool_timeout=3
    )
    env.emu.control.set_latency(40)  # requests in flight while others wait to journal
    try:
        run = service.run_sync(
            sessionmaker(bind=engine, expire_on_commit=False),
            env.org_id,
            app_settings=env.app_settings,
            client=env.client(),
        )
    finally:
        env.emu.control.set_latency(0)
        engine.dispose()
    assert run.status == "succeeded", run.error
    assert env.plan().plan.operations == []
