"""The foundation a user meets first: the CLI answers and the schema migrates both ways."""

from __future__ import annotations

from sqlalchemy import inspect
from typer.testing import CliRunner

from psabridge.cli import app
from psabridge.db import downgrade, make_engine, migrate


def test_cli_help_lists_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output


def test_every_migration_walks_down_and_up(db_url: str) -> None:
    """Down to base removes every table; up to head restores them (run on SQLite and PostgreSQL)."""
    engine = make_engine(db_url)
    try:
        before = set(inspect(engine).get_table_names())
        downgrade(db_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(db_url)
        assert set(inspect(engine).get_table_names()) == before
    finally:
        engine.dispose()
