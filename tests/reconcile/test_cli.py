"""``psabridge reconcile`` on the command line: it states its cost, lists the differences with their fix
ids, approves and applies, exports CSV; bad input and a running sync end with a message, exit 1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from psabridge.cli import app
from psabridge.config import get_settings
from psabridge.reconcile import service
from psabridge.reconcile.settle import Busy
from psabridge.sync.runlock import connector_lock
from tests.reconcile.scenario import DAY, changed_by_hand
from tests.sync.support import Hub, SyncEnv


@pytest.fixture()
def cli_env(env: SyncEnv, monkeypatch: pytest.MonkeyPatch) -> SyncEnv:
    monkeypatch.setenv("PSABRIDGE_AUTOTASK_ZONE_URL", env.emu.zone_url)
    get_settings.cache_clear()
    return env


def test_reconcile_approve_apply_and_export_from_the_cli(cli_env: SyncEnv, hub: Hub, tmp_path: Path) -> None:
    changed_by_hand(cli_env, hub)
    runner = CliRunner()
    bad = runner.invoke(app, ["reconcile", "--org", "acme", "--date", "15/03/2026"])
    assert bad.exit_code == 2 and "--date must be YYYY-MM-DD" in bad.output
    text = runner.invoke(app, ["reconcile", "--org", "acme", "--date", DAY.isoformat()])
    assert text.exit_code == 0, text.output
    assert "Reading Autotask: about" in text.output and "13 difference(s)" in text.output
    done = runner.invoke(app, ["reconcile", "--org", "acme", "--date", DAY.isoformat(), "--json"])
    data = json.loads(done.output)
    assert data["status"] == "done" and len(data["items"]) == 13
    seats = next(d for d in data["items"] if d["category"] == "seats")
    adjust = next(x["id"] for x in seats["fixes"] if x["kind"] == "adjust")
    unknown = runner.invoke(app, ["reconcile", "approve", str(data["id"]), "424242", "--org", "acme"])
    assert unknown.exit_code == 1 and "has no fix 424242 (fix_ids)" in unknown.output
    applied = runner.invoke(
        app, ["reconcile", "apply", str(data["id"]), "--approve", str(adjust), "--org", "acme", "--json"]
    )
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output)["applied"] == [adjust]
    out = tmp_path / "run.csv"
    assert (
        runner.invoke(
            app, ["reconcile", "export", str(data["id"]), "--org", "acme", "-o", str(out)]
        ).exit_code
        == 0
    )
    assert f",{adjust},adjust," in out.read_text() and ",applied,cli:" in out.read_text()
    listed = runner.invoke(app, ["reconcile", "list", "--org", "acme", "--json"])
    assert [r["id"] for r in json.loads(listed.output)][:2] == [data["id"], data["id"] - 1]


def test_a_reconciliation_waits_for_a_running_sync(env: SyncEnv, hub: Hub) -> None:
    from sqlalchemy import Engine

    changed_by_hand(env, hub)
    with env.factory() as s:
        bind = s.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
    with connector_lock(engine, env.connector_id), pytest.raises(Busy, match="running"):
        service.start(
            env.factory, env.org_id, app_settings=env.app_settings, on_date=DAY, client=env.client()
        )
