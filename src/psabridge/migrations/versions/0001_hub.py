"""Billing hub: organizations, API tokens and the billing records.

Revision ID: 0001_hub
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_hub"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(14, 4)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _record_columns(table: str) -> list[sa.Column[object] | sa.Constraint]:
    """Columns shared by every billing record (see ``HubRecord``)."""
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=f"fk_{table}_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint("organization_id", "external_id", name=f"uq_{table}_organization_id_external_id"),
    ]


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organizations"),
        sa.UniqueConstraint("slug", name="uq_organizations_slug"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("token_prefix", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.CheckConstraint(_in("role", ("admin", "viewer")), name="ck_api_tokens_role"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name="fk_api_tokens_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_organization_id", "api_tokens", ["organization_id"])

    op.create_table(
        "accounts",
        *_record_columns("accounts"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("address_line1", sa.String(200), nullable=True),
        sa.Column("address_line2", sa.String(200), nullable=True),
        sa.Column("city", sa.String(100), nullable=True),
        sa.Column("state", sa.String(100), nullable=True),
        sa.Column("postal_code", sa.String(20), nullable=True),
        sa.Column("country", sa.String(100), nullable=True),
        sa.Column("owner_email", sa.String(254), nullable=True),
        sa.Column("primary_contact_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.CheckConstraint(_in("status", ("active", "inactive")), name="ck_accounts_status"),
    )
    op.create_index("ix_accounts_primary_contact_id", "accounts", ["primary_contact_id"])

    op.create_table(
        "contacts",
        *_record_columns("contacts"),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_contacts_account_id_accounts"),
    )
    op.create_index("ix_contacts_account_id", "contacts", ["account_id"])
    # accounts <-> contacts reference each other: the account's FK is added once both tables exist.
    with op.batch_alter_table("accounts") as batch:
        batch.create_foreign_key(
            "fk_accounts_primary_contact_id_contacts",
            "contacts",
            ["primary_contact_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "products",
        *_record_columns("products"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sku", sa.String(100), nullable=True),
        sa.Column("manufacturer", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("unit_cost", MONEY, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint(_in("kind", ("service", "product")), name="ck_products_kind"),
    )

    op.create_table(
        "billing_contracts",
        *_record_columns("billing_contracts"),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contract_type", sa.String(20), nullable=False),
        sa.Column("billing_frequency", sa.String(20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("setup_fee", MONEY, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_billing_contracts_account_id_accounts"
        ),
        sa.CheckConstraint(
            _in("contract_type", ("recurring", "item_based")), name="ck_billing_contracts_contract_type"
        ),
        sa.CheckConstraint(
            _in("billing_frequency", ("monthly", "quarterly", "semi_annual", "annual", "triennial")),
            name="ck_billing_contracts_billing_frequency",
        ),
        sa.CheckConstraint(
            _in("status", ("active", "cancelled", "expired")), name="ck_billing_contracts_status"
        ),
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ck_billing_contracts_dates"),
        sa.CheckConstraint("setup_fee IS NULL OR setup_fee >= 0", name="ck_billing_contracts_setup_fee"),
    )
    op.create_index("ix_billing_contracts_account_id", "billing_contracts", ["account_id"])

    op.create_table(
        "subscriptions",
        *_record_columns("subscriptions"),
        sa.Column("billing_contract_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("unit_cost", MONEY, nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(
            ["billing_contract_id"],
            ["billing_contracts.id"],
            name="fk_subscriptions_billing_contract_id_billing_contracts",
        ),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name="fk_subscriptions_product_id_products"),
        sa.CheckConstraint(
            _in("status", ("active", "suspended", "cancelled")), name="ck_subscriptions_status"
        ),
        sa.CheckConstraint("quantity >= 0", name="ck_subscriptions_quantity"),
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="ck_subscriptions_dates"),
    )
    op.create_index("ix_subscriptions_billing_contract_id", "subscriptions", ["billing_contract_id"])
    op.create_index("ix_subscriptions_product_id", "subscriptions", ["product_id"])

    op.create_table(
        "license_change_logs",
        *_record_columns("license_change_logs"),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("quantity_before", sa.Integer(), nullable=False),
        sa.Column("quantity_after", sa.Integer(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("is_refund", sa.Boolean(), nullable=False),
        sa.Column("refund_amount", MONEY, nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_license_change_logs_subscription_id_subscriptions",
        ),
        sa.CheckConstraint(_in("status", ("active", "archived")), name="ck_license_change_logs_status"),
        sa.CheckConstraint(
            "quantity_before >= 0 AND quantity_after >= 0", name="ck_license_change_logs_quantities"
        ),
        sa.CheckConstraint(
            "refund_amount IS NULL OR refund_amount >= 0", name="ck_license_change_logs_refund_amount"
        ),
    )
    op.create_index("ix_license_change_logs_subscription_id", "license_change_logs", ["subscription_id"])


def downgrade() -> None:
    op.drop_index("ix_license_change_logs_subscription_id", table_name="license_change_logs")
    op.drop_table("license_change_logs")
    op.drop_index("ix_subscriptions_product_id", table_name="subscriptions")
    op.drop_index("ix_subscriptions_billing_contract_id", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index("ix_billing_contracts_account_id", table_name="billing_contracts")
    op.drop_table("billing_contracts")
    op.drop_table("products")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint("fk_accounts_primary_contact_id_contacts", type_="foreignkey")
    op.drop_index("ix_contacts_account_id", table_name="contacts")
    op.drop_table("contacts")
    op.drop_index("ix_accounts_primary_contact_id", table_name="accounts")
    op.drop_table("accounts")
    op.drop_index("ix_api_tokens_organization_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("organizations")
