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


def test_contract_services_pushed_before_0005_never_get_their_initial_units_twice(db_url: str) -> None:
    """Before 0005 a contract service was created with its initial units; from 0005 on they are an
    adjustment of their own. The migration records them as synced for every pushed contract service."""
    from sqlalchemy import text

    engine = make_engine(db_url)
    try:
        downgrade(db_url, "0004_sync")
        with engine.begin() as conn:
            org = conn.execute(
                text(
                    "INSERT INTO organizations (name, slug, created_at) VALUES ('M', 'mig', :t) RETURNING id"
                ),
                {"t": "2026-01-01T00:00:00+00:00"},
            ).scalar_one()
            connector = conn.execute(
                text(
                    "INSERT INTO connectors (organization_id, kind, name, username, secret_encrypted, "
                    "integration_code, zone_name, api_url, web_url, settings_json, status, created_at, "
                    "updated_at) VALUES (:o, 'autotask', 'c', 'u', 's', 'i', '', '', '', '{}', 'set_up', :t, :t) "
                    "RETURNING id"
                ),
                {"o": org, "t": "2026-01-01T00:00:00+00:00"},
            ).scalar_one()
            for hub_id, status in ((7, "synced"), (8, "blocked")):
                conn.execute(
                    text(
                        "INSERT INTO sync_links (organization_id, connector_id, record_type, hub_id, "
                        "autotask_entity, autotask_id, status, decision, candidates, created_at, updated_at) "
                        "VALUES (:o, :c, 'subscription', :h, 'ContractServices', 100, :s, 'auto', '[]', :t, :t)"
                    ),
                    {"o": org, "c": connector, "h": hub_id, "s": status, "t": "2026-01-01T00:00:00+00:00"},
                )
        migrate(db_url)
        with engine.begin() as conn:
            rows = conn.execute(
                text("SELECT hub_id, status FROM sync_links WHERE record_type = 'subscription_start'")
            ).all()
            assert [tuple(r) for r in rows] == [(7, "synced")]
            conn.execute(text("DELETE FROM organizations WHERE id = :o"), {"o": org})
    finally:
        migrate(db_url)
        engine.dispose()
