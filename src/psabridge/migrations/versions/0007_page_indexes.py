"""Indexes for paged lists at 100,000 subscriptions, and the "written by this run" flag of run results.

Every list (PSA Integration tabs, Billing Hub pages, /api/v1 lists, run pages) is one page of an
indexed, organization-scoped query with counts from the database; these are the indexes those queries
use. ``sync_record_results.written`` says a result's record was written by its run (the run page's
"Written by this run" filter as an indexed column instead of a scan of the run's journal); NULL on runs
recorded before this revision, which the page still derives from the journal.

Revision ID: 0007_page_indexes
Revises: 0006_reconcile
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_page_indexes"
down_revision = "0006_reconcile"
branch_labels = None
depends_on = None

#: (index name, table, columns): the same as the models' ``__table_args__``.
INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_accounts_org_id", "accounts", ("organization_id", "id")),
    ("ix_accounts_org_name", "accounts", ("organization_id", "name", "id")),
    ("ix_contacts_org_id", "contacts", ("organization_id", "id")),
    ("ix_products_org_id", "products", ("organization_id", "id")),
    ("ix_billing_contracts_org_id", "billing_contracts", ("organization_id", "id")),
    ("ix_billing_contracts_account_name", "billing_contracts", ("account_id", "name", "id")),
    ("ix_subscriptions_org_id", "subscriptions", ("organization_id", "id")),
    (
        "ix_subscriptions_org_product_contract",
        "subscriptions",
        ("organization_id", "product_id", "billing_contract_id"),
    ),
    ("ix_license_change_logs_org_id", "license_change_logs", ("organization_id", "id")),
    (
        "ix_license_change_logs_org_status_date",
        "license_change_logs",
        # covering: the Changes tab's conditions are read from the index, a deep page walks no table rows
        (
            "organization_id",
            "status",
            "effective_date",
            "id",
            "is_refund",
            "quantity_before",
            "quantity_after",
            "unit_price",
        ),
    ),
    (
        "ix_license_change_logs_org_refund",
        "license_change_logs",
        ("organization_id", "is_refund", "status", "effective_date", "id", "refund_amount"),
    ),
    ("ix_accounts_org_updated", "accounts", ("organization_id", "updated_at")),
    ("ix_contacts_org_updated", "contacts", ("organization_id", "updated_at")),
    ("ix_billing_contracts_org_updated", "billing_contracts", ("organization_id", "updated_at")),
    ("ix_subscriptions_org_updated", "subscriptions", ("organization_id", "updated_at")),
    ("ix_license_change_logs_org_updated", "license_change_logs", ("organization_id", "updated_at")),
    ("ix_sync_links_org_updated", "sync_links", ("organization_id", "updated_at")),
    ("ix_sync_links_org_record", "sync_links", ("organization_id", "record_type", "hub_id", "status")),
    ("ix_sync_links_org_status", "sync_links", ("organization_id", "status", "record_type")),
    ("ix_sync_journal_org_entity_autotask", "sync_journal", ("organization_id", "entity", "autotask_id")),
    ("ix_sync_record_results_run_order", "sync_record_results", ("run_id", "id")),
    ("ix_sync_record_results_run_status", "sync_record_results", ("run_id", "status", "id")),
    ("ix_sync_record_results_run_written", "sync_record_results", ("run_id", "written", "id")),
)


def upgrade() -> None:
    with op.batch_alter_table("sync_record_results") as batch:
        batch.add_column(sa.Column("written", sa.Boolean(), nullable=True))
    for name, table, columns in INDEXES:
        op.create_index(name, table, list(columns))


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("sync_record_results") as batch:
        batch.drop_column("written")
