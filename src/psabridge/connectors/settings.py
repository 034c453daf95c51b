"""The Autotask connector's settings, as Work 365 users know them.

This model is the seam between the Admin Hub (which edits it, with options read live from the tenant)
and the sync engine (which obeys it). Picklist values are the tenant's own ids (strings in Autotask
metadata, integers in entity bodies); they are never hard-coded, only chosen from the tenant.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from psabridge.connectors.declarations import SETTINGS, Kind


class BillingFrequency(StrEnum):
    """Billing frequencies of the hub's billing contracts."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMI_ANNUAL = "semi_annual"
    ANNUAL = "annual"
    TRIENNIAL = "triennial"


class OwnerSource(StrEnum):
    """How the owner resource of created companies is chosen."""

    FIXED = "fixed"  # always the Default Owner resource
    ACCOUNT_OWNER_EMAIL = (
        "account_owner_email"  # the resource whose email matches the account owner's, else fixed
    )


class AutotaskConnectorSettings(BaseModel):
    """Every setting of the Autotask connector. ``None`` means "not chosen yet"."""

    model_config = ConfigDict(extra="forbid")

    allow_duplicated_services: bool = False
    time_reporting_requires_start_and_stop_times: bool = False
    setup_fee_enabled: bool = False
    setup_fee_billing_code_id: int | None = Field(
        default=None, description="BillingCodes id used for a contract's setup fee."
    )
    default_charge_type: int | None = Field(
        default=None, description="ContractCharges.chargeType picklist value."
    )
    default_company_type: int | None = Field(
        default=None, description="Companies.companyType picklist value."
    )
    default_billing_preference: int | None = Field(
        default=None, description="Contracts.billingPreference picklist value."
    )
    default_contract_type: int | None = Field(
        default=None, description="Contracts.contractType picklist value (Recurring Service)."
    )
    default_vendor_type: int | None = Field(
        default=None, description="Companies.companyType picklist value that marks vendors."
    )
    default_owner_resource_id: int | None = Field(
        default=None, description="Resources id owning created records."
    )
    owner_source: OwnerSource = OwnerSource.FIXED
    default_refund_product_id: int | None = Field(
        default=None, description="Products id used on refund charges."
    )
    product_billing_code_id: int | None = Field(
        default=None, description="BillingCodes id (material code) for Autotask Products."
    )
    service_billing_code_id: int | None = Field(
        default=None, description="BillingCodes id (recurring contract service code) for Autotask Services."
    )
    billing_frequencies: dict[BillingFrequency, int] = Field(
        default_factory=dict, description="Hub billing frequency -> Services.periodType picklist value."
    )
    contract_period_types: dict[BillingFrequency, int] = Field(
        default_factory=dict,
        description="Hub billing frequency -> Contracts.contractPeriodType picklist value (Autotask requires "
        "one on every Recurring Service contract; it cannot change after the contract is created).",
    )
    manufacturers: dict[str, int] = Field(
        default_factory=dict,
        description="Hub product manufacturer name -> Autotask vendor company id (of the Default Vendor Type).",
    )

    def missing_required(self) -> list[str]:
        """Names of the settings that must be chosen before the connector counts as set up."""
        missing = [
            spec.name
            for spec in SETTINGS
            if spec.required and spec.kind == Kind.CHOICE and getattr(self, spec.name) is None
        ]
        if not self.billing_frequencies or set(self.billing_frequencies) != set(self.contract_period_types):
            missing.append("billing_frequencies")
        if self.setup_fee_enabled and self.setup_fee_billing_code_id is None:
            missing.append("setup_fee_billing_code_id")
        return missing

    @property
    def is_set_up(self) -> bool:
        return not self.missing_required()
