"""Every setting of the Autotask connector, declared once: its label, help text, where its choices come
from, whether it must be chosen, and the tenant labels recommended (preselected) or picked by the demo.

The settings form, the server-side validation, "Still to choose", the demo's setup and
docs/connector-settings.md (``scripts/gen_settings_doc.py``; a test keeps it current) all read this
table, so a setting cannot be saved, shown and documented while another part forgets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    YES_NO = "yes_no"  # a switch
    CHOICE = "choice"  # one id from a live option list of the tenant
    OWNER_SOURCE = "owner_source"  # how the owner resource is chosen
    FREQUENCIES = "frequencies"  # hub billing frequency -> service and contract period types
    MANUFACTURERS = "manufacturers"  # hub manufacturer -> vendor company (after Default Vendor Type)


@dataclass(frozen=True)
class SettingSpec:
    """One connector setting as users know it from Work 365."""

    name: str  # field of AutotaskConnectorSettings (and of the HTML form)
    label: str
    kind: Kind
    help: str = ""
    option_key: str | None = None  # the live option list a CHOICE comes from (psabridge.connectors.options)
    required: bool = False
    recommended: tuple[str, ...] = ()  # labels preselected while nothing is chosen
    demo: tuple[str, ...] = ()  # labels the demo picks (first one the tenant has)


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "allow_duplicated_services",
        "Allow Duplicated Services",
        Kind.YES_NO,
        "Yes: a contract may hold several contract services of the same service. No: a second one is "
        "refused with the reason.",
    ),
    SettingSpec(
        "time_reporting_requires_start_and_stop_times",
        "Time Reporting Requires Start and Stop Times",
        Kind.YES_NO,
        "Set on every contract the connector creates (Autotask requires it; no time is billed).",
    ),
    SettingSpec(
        "setup_fee_enabled",
        "Setup Fee",
        Kind.YES_NO,
        "Yes: a billing contract's setup fee is charged when its Autotask contract is created.",
    ),
    SettingSpec(
        "setup_fee_billing_code_id",
        "Setup Fee billing code",
        Kind.CHOICE,
        "The billing code setup fees are charged with (needed when Setup Fee is Yes); chosen among the "
        "product and service billing codes.",
        demo=("Setup Fees",),
    ),
    SettingSpec(
        "default_charge_type",
        "Default Charge Type",
        Kind.CHOICE,
        "Charge type of the contract charges the connector creates (setup fees, refunds).",
        option_key="charge_types",
        required=True,
        demo=("Operational",),
    ),
    SettingSpec(
        "default_company_type",
        "Default Company Type",
        Kind.CHOICE,
        "Type of the companies the connector creates. Recommended: Customer.",
        option_key="company_types",
        required=True,
        recommended=("Customer",),
        demo=("Customer",),
    ),
    SettingSpec(
        "default_billing_preference",
        "Default Billing Preference",
        Kind.CHOICE,
        "Billing preference of the contracts the connector creates.",
        option_key="billing_preferences",
        required=True,
        demo=("Immediately", "Manually"),
    ),
    SettingSpec(
        "default_contract_type",
        "Default Contract Type",
        Kind.CHOICE,
        "Recommended: Recurring Service, the only type that can hold contract services.",
        option_key="contract_types",
        required=True,
        recommended=("Recurring Service",),
        demo=("Recurring Service",),
    ),
    SettingSpec(
        "default_vendor_type",
        "Default Vendor Type",
        Kind.CHOICE,
        "The company type that marks vendors. Recommended: Vendor.",
        option_key="company_types",
        required=True,
        recommended=("Vendor",),
        demo=("Vendor",),
    ),
    SettingSpec(
        "default_owner_resource_id",
        "Default Owner Source",
        Kind.CHOICE,
        "The active resource that owns the companies the connector creates (API-only users cannot).",
        option_key="resources",
        required=True,
        demo=("Jane Cooper",),
    ),
    SettingSpec(
        "owner_source",
        "Default Owner Source",
        Kind.OWNER_SOURCE,
        "Always the chosen resource, or the resource whose e-mail is the account owner's (else the chosen one).",
    ),
    SettingSpec(
        "default_refund_product_id",
        "Default Refund Product",
        Kind.CHOICE,
        "The Autotask product on refund (credit) charges.",
        option_key="products",
        required=True,
        demo=("Refund / Credit", "Refund", "Refunds"),
    ),
    SettingSpec(
        "product_billing_code_id",
        "Billing Codes for Products",
        Kind.CHOICE,
        "Material billing code of the Autotask products the connector creates.",
        option_key="product_billing_codes",
        required=True,
        demo=("Hardware", "Software Licenses"),
    ),
    SettingSpec(
        "service_billing_code_id",
        "Billing Codes for Services",
        Kind.CHOICE,
        "Recurring contract service billing code of the Autotask services the connector creates.",
        option_key="service_billing_codes",
        required=True,
        demo=("Managed Services",),
    ),
    SettingSpec(
        "billing_frequencies",
        "Billing Frequencies",
        Kind.FREQUENCIES,
        "Each hub billing frequency mapped to an Autotask service period type and contract period type "
        "(Autotask requires the latter on Recurring Service contracts and never lets it change; it has no "
        "triennial period).",
        required=True,
    ),
    SettingSpec(
        "manufacturers",
        "Manufacturers",
        Kind.MANUFACTURERS,
        "Each hub manufacturer mapped to a vendor company; disabled until Default Vendor Type is saved.",
    ),
)

BY_NAME: dict[str, SettingSpec] = {s.name: s for s in SETTINGS}
#: Hub billing frequency -> period-type labels recommended and picked by the demo (a tenant's labels
#: vary). The demo leaves triennial unmapped on purpose: a triennial contract shows as Blocked.
PERIOD_LABELS: dict[str, tuple[str, ...]] = {
    "monthly": ("Monthly",),
    "quarterly": ("Quarterly",),
    "semi_annual": ("Semi-Annual", "Semi-Annually", "Semiannual"),
    "annual": ("Yearly", "Annual", "Annually"),
    "triennial": ("Triennial", "3 Years"),
}


def names(kind: Kind) -> tuple[str, ...]:
    """The settings of one kind, in form order."""
    return tuple(s.name for s in SETTINGS if s.kind == kind)


def label(name: str) -> str:
    """The setting's name as the Admin Hub shows it."""
    spec = BY_NAME.get(name)
    return spec.label if spec else name
