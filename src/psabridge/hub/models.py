"""Billing hub ORM models: the billing-platform records the connector pushes to Autotask.

Every record belongs to an organization (tenant) and carries an ``external_id`` that is unique per
organization and record type: it is the key imports upsert on and the key the sync engine writes into
Autotask matching fields, so it must never change once a record exists. Enumerations are plain strings
guarded by CHECK constraints (portable between SQLite and PostgreSQL, and readable in SQL). Money is
``Numeric`` and surfaces as ``Decimal`` so prices never pick up binary-float rounding.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from psabridge.db import Base, utcnow

#: Money columns: 4 decimals because Autotask unit prices carry 4; ``Decimal`` in Python.
Money = Numeric(14, 4, asdecimal=True)

ROLES: Final = ("admin", "viewer")
ACCOUNT_STATUSES: Final = ("active", "inactive")
PRODUCT_KINDS: Final = ("service", "product")
CONTRACT_TYPES: Final = ("recurring", "item_based")
BILLING_FREQUENCIES: Final = ("monthly", "quarterly", "semi_annual", "annual", "triennial")
CONTRACT_STATUSES: Final = ("active", "cancelled", "expired")
SUBSCRIPTION_STATUSES: Final = ("active", "suspended", "cancelled")
LOG_STATUSES: Final = ("active", "archived")


def _in(column: str, values: tuple[str, ...]) -> str:
    """SQL for ``column IN (...)``, used by the enum CHECK constraints."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Organization(Base):
    """A tenant: one MSP. Everything else hangs off an organization and is invisible to the others."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    #: IANA time zone of the organization's calendar (dates pushed to Autotask); None: the server's.
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """An organization-scoped API token. Only a SHA-256 hash of the secret is stored (the token is random
    with 256 bits of entropy, so a fast hash is enough and lets us look it up by hash in one query)."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    #: The first characters of the token, shown in listings so a user can tell tokens apart.
    token_prefix: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    organization: Mapped[Organization] = relationship()


class HubRecord(Base):
    """Columns every billing record shares: tenant, external id and audit timestamps."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @declared_attr
    @classmethod
    def organization_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))


class Account(HubRecord):
    """A customer of the MSP; becomes an Autotask Company (with its primary Contact)."""

    __tablename__ = "accounts"
    __table_args__ = (
        Index("ix_accounts_org_id", "organization_id", "id"),
        Index("ix_accounts_org_updated", "organization_id", "updated_at"),
        Index("ix_accounts_org_name", "organization_id", "name", "id"),
        UniqueConstraint("organization_id", "external_id"),
        CheckConstraint(_in("status", ACCOUNT_STATUSES), name="status"),
    )

    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    address_line1: Mapped[str | None] = mapped_column(String(200), default=None)
    address_line2: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    state: Mapped[str | None] = mapped_column(String(100), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(20), default=None)
    country: Mapped[str | None] = mapped_column(String(100), default=None)
    owner_email: Mapped[str | None] = mapped_column(String(254), default=None)
    primary_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL", use_alter=True), index=True, default=None
    )
    status: Mapped[str] = mapped_column(String(20), default="active")

    primary_contact: Mapped[Contact | None] = relationship(
        foreign_keys=[primary_contact_id], post_update=True
    )


class Contact(HubRecord):
    """A person at a customer; becomes an Autotask Contact under the account's Company."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_org_id", "organization_id", "id"),
        Index("ix_contacts_org_updated", "organization_id", "updated_at"),
        UniqueConstraint("organization_id", "external_id"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    account: Mapped[Account] = relationship(foreign_keys=[account_id])


class Product(HubRecord):
    """Something the MSP sells: a recurring service (licences, backup) or a one-time product."""

    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_org_id", "organization_id", "id"),
        UniqueConstraint("organization_id", "external_id"),
        CheckConstraint(_in("kind", PRODUCT_KINDS), name="kind"),
    )

    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(100), default=None)
    manufacturer: Mapped[str | None] = mapped_column(String(200), default=None)
    kind: Mapped[str] = mapped_column(String(20), default="service")
    unit_price: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    unit_cost: Mapped[Decimal | None] = mapped_column(Money, default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)


class BillingContract(HubRecord):
    """An agreement with a customer that holds subscriptions; becomes an Autotask Contract."""

    __tablename__ = "billing_contracts"
    __table_args__ = (
        Index("ix_billing_contracts_org_id", "organization_id", "id"),
        Index("ix_billing_contracts_org_updated", "organization_id", "updated_at"),
        Index("ix_billing_contracts_account_name", "account_id", "name", "id"),
        UniqueConstraint("organization_id", "external_id"),
        CheckConstraint(_in("contract_type", CONTRACT_TYPES), name="contract_type"),
        CheckConstraint(_in("billing_frequency", BILLING_FREQUENCIES), name="billing_frequency"),
        CheckConstraint(_in("status", CONTRACT_STATUSES), name="status"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates"),
        CheckConstraint("setup_fee IS NULL OR setup_fee >= 0", name="setup_fee"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    contract_type: Mapped[str] = mapped_column(String(20), default="recurring")
    billing_frequency: Mapped[str] = mapped_column(String(20), default="monthly")
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(20), default="active")
    setup_fee: Mapped[Decimal | None] = mapped_column(Money, default=None)

    account: Mapped[Account] = relationship()


class Subscription(HubRecord):
    """A product on a contract at a quantity; becomes an Autotask contract service.

    ``quantity`` is only ever changed through a new :class:`LicenseChangeLog` (see ``hub.service``)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_org_id", "organization_id", "id"),
        Index("ix_subscriptions_org_updated", "organization_id", "updated_at"),
        Index(
            "ix_subscriptions_org_product_contract", "organization_id", "product_id", "billing_contract_id"
        ),
        UniqueConstraint("organization_id", "external_id"),
        CheckConstraint(_in("status", SUBSCRIPTION_STATUSES), name="status"),
        CheckConstraint("quantity >= 0", name="quantity"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates"),
    )

    billing_contract_id: Mapped[int] = mapped_column(ForeignKey("billing_contracts.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    unit_cost: Mapped[Decimal | None] = mapped_column(Money, default=None)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(20), default="active")

    billing_contract: Mapped[BillingContract] = relationship()
    product: Mapped[Product] = relationship()


class LicenseChangeLog(HubRecord):
    """One seat change of a subscription; becomes an Autotask contract service adjustment (or a credit
    charge when it is a refund). Never deleted or edited: a mistake is archived and corrected by a new log.
    """

    __tablename__ = "license_change_logs"
    __table_args__ = (
        Index("ix_license_change_logs_org_id", "organization_id", "id"),
        Index("ix_license_change_logs_org_updated", "organization_id", "updated_at"),
        # covering (the Changes tab's conditions), see migration 0007
        Index(
            "ix_license_change_logs_org_status_date",
            "organization_id",
            "status",
            "effective_date",
            "id",
            "is_refund",
            "quantity_before",
            "quantity_after",
            "unit_price",
        ),
        Index(
            "ix_license_change_logs_org_refund",
            "organization_id",
            "is_refund",
            "status",
            "effective_date",
            "id",
            "refund_amount",
        ),
        UniqueConstraint("organization_id", "external_id"),
        CheckConstraint(_in("status", LOG_STATUSES), name="status"),
        CheckConstraint("quantity_before >= 0 AND quantity_after >= 0", name="quantities"),
        CheckConstraint("refund_amount IS NULL OR refund_amount >= 0", name="refund_amount"),
    )

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    effective_date: Mapped[date] = mapped_column(Date)
    quantity_before: Mapped[int] = mapped_column(Integer)
    quantity_after: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal | None] = mapped_column(Money, default=None)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    status: Mapped[str] = mapped_column(String(20), default="active")
    is_refund: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_amount: Mapped[Decimal | None] = mapped_column(Money, default=None)

    subscription: Mapped[Subscription] = relationship()

    @property
    def delta(self) -> int:
        """Seats added (positive) or removed (negative) by this change."""
        return self.quantity_after - self.quantity_before


#: Importable record types in dependency order (a file of one type may reference the earlier ones).
RECORD_MODELS: Final[dict[str, type[HubRecord]]] = {
    "account": Account,
    "contact": Contact,
    "product": Product,
    "billing_contract": BillingContract,
    "subscription": Subscription,
    "license_change_log": LicenseChangeLog,
}
