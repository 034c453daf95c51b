"""Connectors and their option cache.

Revision ID: 0003_connectors
Revises: 0002_auth
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_connectors"
down_revision = "0002_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("integration_code", sa.String(length=255), nullable=False),
        sa.Column("zone_name", sa.String(length=255), nullable=False),
        sa.Column("api_url", sa.String(length=500), nullable=False),
        sa.Column("web_url", sa.String(length=500), nullable=False),
        sa.Column("settings_json", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_connectors_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connectors")),
        sa.UniqueConstraint("organization_id", "kind", name=op.f("uq_connectors_organization_id_kind")),
    )
    with op.batch_alter_table("connectors") as batch_op:
        batch_op.create_index(batch_op.f("ix_connectors_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "connector_option_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("json", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_connector_option_cache_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_option_cache")),
        sa.UniqueConstraint("connector_id", "key", name=op.f("uq_connector_option_cache_connector_id_key")),
    )
    with op.batch_alter_table("connector_option_cache") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connector_option_cache_connector_id"), ["connector_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("connector_option_cache") as batch_op:
        batch_op.drop_index(batch_op.f("ix_connector_option_cache_connector_id"))
    op.drop_table("connector_option_cache")
    with op.batch_alter_table("connectors") as batch_op:
        batch_op.drop_index(batch_op.f("ix_connectors_organization_id"))
    op.drop_table("connectors")
