"""The SQLite file is private, and concurrent start-ups migrate a fresh database once (issue 10)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from psabridge.db import make_engine, migrate


def test_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'psabridge.db'}"
    migrate(url)
    engine = make_engine(url)
    with engine.connect():
        pass
    engine.dispose()
    for path in (tmp_path / "data").glob("psabridge.db*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_processes_starting_together_on_a_fresh_database_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = f"from psabridge.db import migrate; migrate({url!r})"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(rc == 0 for rc, _ in results), [err[-500:] for _, err in results]
