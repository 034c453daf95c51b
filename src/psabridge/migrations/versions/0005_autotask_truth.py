"""Autotask as it really is: organization time zone, zone moves, create-time facts of links.

Revision ID: 0005_autotask_truth
Revises: 0004_sync
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005_autotask_truth"
down_revision = "0004_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("connectors") as batch:
        batch.add_column(
            sa.Column("zone_changed_from", sa.String(length=500), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("zone_changed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("sync_links") as batch:
        batch.add_column(sa.Column("created_with", sa.JSON(), nullable=True))
    _initial_units_were_carried_by_the_create()


def _initial_units_were_carried_by_the_create() -> None:
    """Until now a contract service was created with its initial units (``unitQuantity``); from now on
    initial units are an adjustment of their own (record type ``subscription_start``). Contract services
    already pushed must not get their initial units a second time: record them as synced."""
    bind = op.get_bind()
    links = sa.table(
        "sync_links",
        sa.column("organization_id", sa.Integer),
        sa.column("connector_id", sa.Integer),
        sa.column("record_type", sa.String),
        sa.column("hub_id", sa.Integer),
        sa.column("autotask_entity", sa.String),
        sa.column("status", sa.String),
        sa.column("reason", sa.Text),
        sa.column("decision", sa.String),
        sa.column("candidates", sa.JSON),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    pushed = bind.execute(
        sa.select(links.c.organization_id, links.c.connector_id, links.c.hub_id).where(
            links.c.record_type == "subscription", links.c.status.in_(("synced", "drift"))
        )
    ).all()
    existing = {
        (row.connector_id, row.hub_id)
        for row in bind.execute(
            sa.select(links.c.connector_id, links.c.hub_id).where(links.c.record_type == "subscription_start")
        )
    }
    now = datetime.now(UTC)
    rows = [
        {
            "organization_id": org,
            "connector_id": connector,
            "record_type": "subscription_start",
            "hub_id": hub_id,
            "autotask_entity": "ContractServiceAdjustments",
            "status": "synced",
            "reason": "Carried by the contract service's create (before initial units became an adjustment)",
            "decision": "auto",
            "candidates": [],
            "created_at": now,
            "updated_at": now,
        }
        for org, connector, hub_id in pushed
        if (connector, hub_id) not in existing
    ]
    if rows:
        op.bulk_insert(links, rows)


def downgrade() -> None:
    with op.batch_alter_table("sync_links") as batch:
        batch.drop_column("created_with")
    with op.batch_alter_table("connectors") as batch:
        batch.drop_column("zone_changed_at")
        batch.drop_column("zone_changed_from")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("time_zone")
