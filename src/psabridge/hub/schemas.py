"""Pydantic schemas of the billing hub: separate create / update / public shapes per record, plus the
import row shapes (which reference other records by external id instead of database id).

Field rules live here once; the service layer adds the rules that need the database (references,
tenancy, quantities). ``extra="forbid"`` makes a misspelt or read-only field an error that names it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
)

from psabridge.hub.validation import (
    FREE_TEXT_FIELDS,
    DbId,
    ExternalId,
    Money,
    Name,
    Phone,
    check_date_range,
    text_problem,
)

AccountStatus = Literal["active", "inactive"]
ProductKind = Literal["service", "product"]
ContractType = Literal["recurring", "item_based"]
BillingFrequencyName = Literal["monthly", "quarterly", "semi_annual", "annual", "triennial"]
ContractStatus = Literal["active", "cancelled", "expired"]
SubscriptionStatus = Literal["active", "suspended", "cancelled"]
LogStatus = Literal["active", "archived"]
Role = Literal["admin", "viewer"]
Quantity = Annotated[int, Field(ge=0, le=10_000_000)]
ShortText = Annotated[str, Field(max_length=100)]
LongText = Annotated[str, Field(max_length=200)]
Reason = Annotated[str, Field(max_length=500)]
T = TypeVar("T")


def _as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every timestamp we store is UTC, so say so in the output."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_as_utc)]


def _boundary(value: Any, info: ValidationInfo) -> Any:
    """The one boundary every input field crosses (API bodies and import rows alike): text without
    control or bidi characters, dates within the hub's window. The error lands on the field itself."""
    if isinstance(value, str):
        problem = text_problem(value, multiline=info.field_name in FREE_TEXT_FIELDS)
        if problem:
            raise ValueError(problem)
    elif isinstance(value, date) and not isinstance(value, datetime):
        check_date_range(value)
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _check_boundary = field_validator("*")(_boundary)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _end_not_before_start(value: date | None, info: ValidationInfo) -> date | None:
    start = info.data.get("start_date")
    if value is not None and start is not None and value < start:
        raise ValueError("must be on or after start_date")
    return value


# --- Accounts -------------------------------------------------------------------------------------------
class AccountFields(_In):
    name: Name
    phone: Phone | None = None
    address_line1: LongText | None = None
    address_line2: LongText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: ShortText | None = None
    owner_email: EmailStr | None = None
    status: AccountStatus = "active"


class AccountCreate(AccountFields):
    """The primary contact is chosen later (``is_primary`` on a contact, or an update)."""

    external_id: ExternalId | None = None


class AccountUpdate(_In):
    name: Name | None = None
    phone: Phone | None = None
    address_line1: LongText | None = None
    address_line2: LongText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country: ShortText | None = None
    owner_email: EmailStr | None = None
    status: AccountStatus | None = None
    primary_contact_id: DbId | None = None


class AccountRow(AccountFields):
    external_id: ExternalId
    primary_contact_external_id: ExternalId | None = None


class AccountPublic(_Out):
    id: int
    external_id: str
    name: str
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    owner_email: str | None
    primary_contact_id: int | None
    status: str
    created_at: Timestamp
    updated_at: Timestamp


# --- Contacts -------------------------------------------------------------------------------------------
class ContactFields(_In):
    first_name: Annotated[str, Field(min_length=1, max_length=100)]
    last_name: Annotated[str, Field(min_length=1, max_length=100)]
    email: EmailStr | None = None
    phone: Phone | None = None
    is_active: bool = True


class ContactCreate(ContactFields):
    external_id: ExternalId | None = None
    account_id: DbId
    is_primary: bool = Field(default=False, description="Make this the account's primary contact.")


class ContactUpdate(_In):
    first_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    last_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    is_active: bool | None = None


class ContactRow(ContactFields):
    external_id: ExternalId
    account_external_id: ExternalId
    is_primary: bool = False


class ContactPublic(_Out):
    id: int
    external_id: str
    account_id: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp


# --- Products -------------------------------------------------------------------------------------------
class ProductFields(_In):
    name: Name
    sku: ShortText | None = None
    manufacturer: LongText | None = None
    kind: ProductKind = "service"
    unit_price: Money = Field(default=Decimal("0"))
    unit_cost: Money | None = None
    is_active: bool = True
    description: Annotated[str, Field(max_length=4000)] | None = None


class ProductCreate(ProductFields):
    external_id: ExternalId | None = None


class ProductUpdate(_In):
    name: Name | None = None
    sku: ShortText | None = None
    manufacturer: LongText | None = None
    kind: ProductKind | None = None
    unit_price: Money | None = None
    unit_cost: Money | None = None
    is_active: bool | None = None
    description: Annotated[str, Field(max_length=4000)] | None = None


class ProductRow(ProductFields):
    external_id: ExternalId


class ProductPublic(_Out):
    id: int
    external_id: str
    name: str
    sku: str | None
    manufacturer: str | None
    kind: str
    unit_price: Money
    unit_cost: Money | None
    is_active: bool
    description: str | None
    created_at: Timestamp
    updated_at: Timestamp


# --- Billing contracts ----------------------------------------------------------------------------------
class BillingContractFields(_In):
    name: Name
    contract_type: ContractType = "recurring"
    billing_frequency: BillingFrequencyName = "monthly"
    start_date: date
    end_date: date | None = None
    status: ContractStatus = "active"
    setup_fee: Money | None = None

    _check_end = field_validator("end_date")(_end_not_before_start)


class BillingContractCreate(BillingContractFields):
    external_id: ExternalId | None = None
    account_id: DbId


class BillingContractUpdate(_In):
    """``account_id`` and ``contract_type`` are fixed after creation (as in Autotask)."""

    name: Name | None = None
    billing_frequency: BillingFrequencyName | None = None
    start_date: date | None = None
    end_date: date | None = None
    status: ContractStatus | None = None
    setup_fee: Money | None = None


class BillingContractRow(BillingContractFields):
    external_id: ExternalId
    account_external_id: ExternalId


class BillingContractPublic(_Out):
    id: int
    external_id: str
    account_id: int
    name: str
    contract_type: str
    billing_frequency: str
    start_date: date
    end_date: date | None
    status: str
    setup_fee: Money | None
    created_at: Timestamp
    updated_at: Timestamp


# --- Subscriptions --------------------------------------------------------------------------------------
class SubscriptionFields(_In):
    quantity: Quantity
    unit_price: Money | None = Field(default=None, description="Defaults to the product's unit price.")
    unit_cost: Money | None = None
    start_date: date
    end_date: date | None = None
    status: SubscriptionStatus = "active"

    _check_end = field_validator("end_date")(_end_not_before_start)


class SubscriptionCreate(SubscriptionFields):
    external_id: ExternalId | None = None
    billing_contract_id: DbId
    product_id: DbId


class SubscriptionUpdate(_In):
    """A quantity change is recorded as a new license change log (effective ``effective_date``)."""

    quantity: Quantity | None = None
    effective_date: date | None = Field(
        default=None, description="When a quantity change takes effect (default: today)."
    )
    reason: Reason | None = Field(default=None, description="Reason recorded on the quantity change log.")
    unit_price: Money | None = None
    unit_cost: Money | None = None
    end_date: date | None = None
    status: SubscriptionStatus | None = None


class SubscriptionRow(SubscriptionFields):
    external_id: ExternalId
    billing_contract_external_id: ExternalId
    product_external_id: ExternalId


class SubscriptionPublic(_Out):
    id: int
    external_id: str
    billing_contract_id: int
    product_id: int
    quantity: int
    unit_price: Money
    unit_cost: Money | None
    start_date: date
    end_date: date | None
    status: str
    created_at: Timestamp
    updated_at: Timestamp


# --- License change logs --------------------------------------------------------------------------------
def _refund_amount_rule(value: Any, info: ValidationInfo) -> Any:
    is_refund = info.data.get("is_refund")
    if value is not None and is_refund is False:
        raise ValueError("only allowed when is_refund is true")
    if value is None and is_refund:
        raise ValueError("required when is_refund is true")
    if value is not None and value <= 0:
        raise ValueError("must be greater than 0")
    return value


class LicenseChangeLogCreate(_In):
    """``quantity_before`` is the subscription's current quantity; send it to guard against a concurrent
    change (a different value is refused with 409)."""

    external_id: ExternalId | None = None
    subscription_id: DbId
    effective_date: date
    quantity_before: Quantity | None = None
    quantity_after: Quantity
    unit_price: Money | None = None
    reason: Reason | None = None
    is_refund: bool = False
    refund_amount: Money | None = Field(default=None, validate_default=True)

    _check_refund = field_validator("refund_amount")(_refund_amount_rule)


class LicenseChangeLogRow(_In):
    external_id: ExternalId
    subscription_external_id: ExternalId
    effective_date: date
    quantity_before: Quantity
    quantity_after: Quantity
    unit_price: Money | None = None
    reason: Reason | None = None
    status: LogStatus = "active"
    is_refund: bool = False
    refund_amount: Money | None = Field(default=None, validate_default=True)

    _check_refund = field_validator("refund_amount")(_refund_amount_rule)


class LicenseChangeLogPublic(_Out):
    id: int
    external_id: str
    subscription_id: int
    effective_date: date
    quantity_before: int
    quantity_after: int
    unit_price: Money | None
    reason: str | None
    status: str
    is_refund: bool
    refund_amount: Money | None
    created_at: Timestamp
    updated_at: Timestamp


# --- Organizations, tokens, reports ---------------------------------------------------------------------
class OrganizationPublic(_Out):
    id: int
    name: str
    slug: str
    time_zone: str | None = Field(
        default=None, description="IANA time zone of the dates pushed to Autotask; null: the server's."
    )
    created_at: Timestamp


class OrganizationUpdate(BaseModel):
    """What an admin may change of their organization."""

    model_config = ConfigDict(extra="forbid")
    time_zone: str | None = Field(
        default=None, max_length=64, description="IANA time zone name; null for the server's local zone."
    )


class MismatchPublic(BaseModel):
    subscription_id: int
    subscription_external_id: str
    quantity: int
    logged_quantity: int
    difference: int
    active_log_count: int


class ImportResultPublic(BaseModel):
    record_type: str
    created: int
    updated: int
    unchanged: int
    logs_created: int = Field(description="License change logs recorded for new or changed quantities.")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` plus the ``total`` matching the filters, for offset pagination."""

    items: list[T]
    total: int
    limit: int
    offset: int
