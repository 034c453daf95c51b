"""The command line prints record text as text and failures as one line (issue 10)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from psabridge.connectors.models import Connector
from psabridge.hub import models as m
from tests.support.servers import free_port
from tests.sync.support import Hub, SyncEnv


def test_markup_and_escape_sequences_in_names_are_printed_as_text(
    env: SyncEnv, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from psabridge.cli import app
    from psabridge.config import get_settings

    monkeypatch.setenv("PSABRIDGE_AUTOTASK_ZONE_URL", env.emu.zone_url)
    get_settings.cache_clear()
    hub.account("Acme [/bold] Ltd")
    legacy = hub.account("Evil Co", phone=None)  # blocked: listed with its name
    with env.factory() as s:  # stored before the text boundary existed
        s.execute(update(m.Account).where(m.Account.id == legacy.id).values(name="Evil \x1b[2J\x1b[31mCo"))
        s.commit()
    runner = CliRunner()
    planned = runner.invoke(app, ["plan", "--org", "acme"])
    assert planned.exit_code == 0, planned.output
    assert "Acme [/bold] Ltd" in planned.stdout
    assert "\x1b[2J" not in planned.stdout and "Evil \\x1b[2J\\x1b[31mCo" in planned.stdout
    synced = runner.invoke(app, ["sync", "--org", "acme"])
    assert synced.exit_code == 0, synced.output
    assert "\x1b[2J" not in synced.stdout and "Evil \\x1b[2J" in synced.stdout


def test_autotask_unreachable_is_one_line_and_a_non_zero_exit(env: SyncEnv, hub: Hub) -> None:
    hub.account("Lucerne Publishing")
    with env.factory() as s:
        dead = f"http://127.0.0.1:{free_port()}/atservicesrest/"
        s.execute(update(Connector).where(Connector.id == env.connector_id).values(api_url=dead))
        s.commit()
    done = subprocess.run(
        [sys.executable, "-m", "psabridge.cli", "plan", "--org", "acme"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PSABRIDGE_AUTOTASK_ZONE_URL": env.emu.zone_url},
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: Autotask could not be reached"), done.stderr


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "psabridge.cli", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("psabridge ")
