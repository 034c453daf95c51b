"""Autotask as it really is: organization time zone, zone moves, create-time facts of links.

Revision ID: 0005_autotask_truth
Revises: 0004_sync
"""

from __future__ import annotations

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


def downgrade() -> None:
    with op.batch_alter_table("sync_links") as batch:
        batch.drop_column("created_with")
    with op.batch_alter_table("connectors") as batch:
        batch.drop_column("zone_changed_at")
        batch.drop_column("zone_changed_from")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("time_zone")
