"""Schemas of what is billed: billing contracts, their subscriptions and the license change logs.

Why together: a subscription lives in a contract and its quantity history is its license change logs;
they share the date rules (an end not before the start) and the quantity and money fields.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from psabridge.hub.schemas.boundary import InputModel, OutputModel, Quantity, Reason, Timestamp
from psabridge.hub.validation import DbId, ExternalId, Money, Name

ContractType = Literal["recurring", "item_based"]
BillingFrequencyName = Literal["monthly", "quarterly", "semi_annual", "annual", "triennial"]
ContractStatus = Literal["active", "cancelled", "expired"]
SubscriptionStatus = Literal["active", "suspended", "cancelled"]
LogStatus = Literal["active", "archived"]


def _end_not_before_start(value: date | None, info: ValidationInfo) -> date | None:
    start = info.data.get("start_date")
    if value is not None and start is not None and value < start:
        raise ValueError("must be on or after start_date")
    return value


# --- Billing contracts ----------------------------------------------------------------------------------
class BillingContractFields(InputModel):
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


class BillingContractUpdate(InputModel):
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


class BillingContractPublic(OutputModel):
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
class SubscriptionFields(InputModel):
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


class SubscriptionUpdate(InputModel):
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


class SubscriptionPublic(OutputModel):
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


class LicenseChangeLogCreate(InputModel):
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


class LicenseChangeLogRow(InputModel):
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


class LicenseChangeLogPublic(OutputModel):
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
