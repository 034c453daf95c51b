"""Reconciliation: runs, differences, fixes (who approved, what was written) and accepted differences.

Revision ID: 0006_reconcile
Revises: 0005_autotask_truth
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_reconcile"
down_revision = "0005_autotask_truth"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> Any:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("estimated_calls", sa.Integer(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("minimum_calls", sa.Integer(), nullable=False),
        sa.Column("reads", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        _fk("reconcile_runs", "organization_id", "organizations"),
        _fk("reconcile_runs", "connector_id", "connectors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_runs")),
    )
    op.create_index(op.f("ix_reconcile_runs_organization_id"), "reconcile_runs", ["organization_id"])
    op.create_table(
        "reconcile_differences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=True),
        sa.Column("hub_id", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("autotask_entity", sa.String(length=64), nullable=False),
        sa.Column("autotask_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("autotask_value", sa.JSON(), nullable=True),
        sa.Column("hub_value", sa.JSON(), nullable=True),
        sa.Column("last_written", sa.JSON(), nullable=True),
        sa.Column("changed_by", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        _fk("reconcile_differences", "run_id", "reconcile_runs"),
        _fk("reconcile_differences", "organization_id", "organizations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_differences")),
    )
    for column in ("run_id", "organization_id", "signature"):
        op.create_index(op.f(f"ix_reconcile_differences_{column}"), "reconcile_differences", [column])
    op.create_table(
        "reconcile_fixes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("difference_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("overwrites_person", sa.Boolean(), nullable=False),
        sa.Column("approvable", sa.Boolean(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("written", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _fk("reconcile_fixes", "difference_id", "reconcile_differences"),
        _fk("reconcile_fixes", "run_id", "reconcile_runs"),
        _fk("reconcile_fixes", "organization_id", "organizations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_fixes")),
    )
    for column in ("difference_id", "run_id", "organization_id"):
        op.create_index(op.f(f"ix_reconcile_fixes_{column}"), "reconcile_fixes", [column])
    op.create_table(
        "reconcile_acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("autotask_value", sa.JSON(), nullable=True),
        sa.Column("hub_value", sa.JSON(), nullable=True),
        sa.Column("fix_id", sa.Integer(), nullable=True),
        sa.Column("accepted_by", sa.String(length=200), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        _fk("reconcile_acceptances", "organization_id", "organizations"),
        _fk("reconcile_acceptances", "connector_id", "connectors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconcile_acceptances")),
        sa.UniqueConstraint(
            "connector_id", "signature", name=op.f("uq_reconcile_acceptances_connector_id_signature")
        ),
    )
    op.create_index(
        op.f("ix_reconcile_acceptances_organization_id"), "reconcile_acceptances", ["organization_id"]
    )


def downgrade() -> None:
    op.drop_table("reconcile_acceptances")
    op.drop_table("reconcile_fixes")
    op.drop_table("reconcile_differences")
    op.drop_table("reconcile_runs")
