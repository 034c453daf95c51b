"""Sync engine: links, write journal, runs and per-record results.

Revision ID: 0004_sync
Revises: 0003_connectors
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_sync"
down_revision = "0003_connectors"
branch_labels = None
depends_on = None


def _owner_columns(table: str) -> list[Any]:
    return [
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f(f"fk_{table}_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f(f"fk_{table}_connector_id_connectors"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        *_owner_columns("sync_runs"),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("retry_failed_only", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("planned_operations", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(op.f("ix_sync_runs_organization_id"), "sync_runs", ["organization_id"])
    op.create_table(
        "sync_links",
        sa.Column("id", sa.Integer(), nullable=False),
        *_owner_columns("sync_links"),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("hub_id", sa.Integer(), nullable=False),
        sa.Column("autotask_entity", sa.String(length=64), nullable=False),
        sa.Column("autotask_id", sa.Integer(), nullable=True),
        sa.Column("parent_autotask_id", sa.Integer(), nullable=True),
        sa.Column("matching_key", sa.String(length=100), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("op_id", sa.String(length=160), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_links")),
        sa.UniqueConstraint(
            "connector_id",
            "record_type",
            "hub_id",
            name=op.f("uq_sync_links_connector_id_record_type_hub_id"),
        ),
    )
    op.create_index(op.f("ix_sync_links_organization_id"), "sync_links", ["organization_id"])
    op.create_index(op.f("ix_sync_links_connector_id"), "sync_links", ["connector_id"])
    op.create_table(
        "sync_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        *_owner_columns("sync_journal"),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("op_id", sa.String(length=160), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("verb", sa.String(length=16), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("matching_key", sa.String(length=100), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("covers", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("autotask_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_sync_journal_run_id_sync_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_journal")),
    )
    op.create_index(op.f("ix_sync_journal_organization_id"), "sync_journal", ["organization_id"])
    op.create_index(op.f("ix_sync_journal_run_id"), "sync_journal", ["run_id"])
    op.create_index(op.f("ix_sync_journal_op_id"), "sync_journal", ["op_id"])
    op.create_index("ix_sync_journal_connector_outcome", "sync_journal", ["connector_id", "outcome"])
    op.create_table(
        "sync_record_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("hub_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("autotask_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_sync_record_results_run_id_sync_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_record_results")),
    )
    op.create_index(op.f("ix_sync_record_results_run_id"), "sync_record_results", ["run_id"])


def downgrade() -> None:
    op.drop_table("sync_record_results")
    op.drop_table("sync_journal")
    op.drop_table("sync_links")
    op.drop_table("sync_runs")
