"""The preview is exactly what apply does: the dry-run plan, the applied plan and the journal agree."""

from __future__ import annotations

from sqlalchemy import select

from psabridge.sync.models import JournalEntry
from psabridge.sync.planner import Plan
from tests.sync.support import Hub, SyncEnv, build_fixture, count_calls


def test_dry_run_writes_nothing_and_apply_executes_exactly_the_plan(env: SyncEnv, hub: Hub) -> None:
    build_fixture(hub)
    env.emu.control.clear_calls()
    preview = env.plan().plan
    assert count_calls(env.emu.control.calls(), writes_only=True) == 0
    assert preview.write_calls == sum(op.cost for op in preview.operations) > 0
    again = env.plan().plan
    assert [o.to_dict() for o in again.operations] == [o.to_dict() for o in preview.operations]

    applied: list[Plan] = []
    env.emu.control.clear_calls()
    run = env.sync(on_plan=applied.append)
    assert run.status == "succeeded"
    applied_ops = [o.to_dict() for batch in applied for o in batch.operations]
    assert applied_ops == [o.to_dict() for o in preview.operations]
    with env.factory() as s:
        journal = s.scalars(select(JournalEntry).where(JournalEntry.run_id == run.id)).all()
    assert sorted(e.op_id for e in journal) == sorted(o.op_id for o in preview.operations)
    assert all(e.outcome == "done" for e in journal)
    # the writes the emulator saw are the plan's cost
    assert count_calls(env.emu.control.calls(), writes_only=True) == preview.write_calls
    # phases run in dependency order
    order = ["products", "customers", "agreements", "services", "changes", "charges"]
    phases = [o.phase for o in preview.operations]
    assert phases == sorted(phases, key=order.index)


def test_one_sync_per_organization_at_a_time(env: SyncEnv, hub: Hub) -> None:
    """A second sync (another thread, or another process holding the lock) is refused, not run twice."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import pytest

    from psabridge.sync import service
    from psabridge.sync.runlock import connector_lock

    hub.account("Consolidated Messenger")
    engine = env.factory.kw["bind"]
    with connector_lock(engine, env.connector_id), pytest.raises(service.SyncError, match="already running"):
        env.sync()
    # another process holds it: the lock is not only per thread
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from psabridge.db import make_engine; from psabridge.sync.runlock import connector_lock\n"
            "with connector_lock(make_engine(sys.argv[1]), int(sys.argv[2])):\n"
            "    print('locked', flush=True); time.sleep(30)",
            env.app_settings.resolved_database_url(),
            str(env.connector_id),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(service.SyncError, match="already running"):
            env.sync()
    finally:
        holder.kill()
        holder.wait(10)
    time.sleep(0.1)
    assert env.sync().status == "succeeded"  # a killed holder releases the lock
