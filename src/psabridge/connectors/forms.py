"""The settings form of the Autotask connector: what the page shows, and how a submitted form is read.

Kept apart from the routes so the mapping between HTML field names and ``AutotaskConnectorSettings``
lives in one place (the Playwright test and the templates use the same names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.connectors import options as opts
from psabridge.connectors import service
from psabridge.connectors.declarations import BY_NAME, Kind, SettingSpec, names
from psabridge.connectors.models import Connector
from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency, OwnerSource


@dataclass(frozen=True)
class CatalogueEntry:
    label: str
    create_href: str | None  # None: not yet available


#: Add New: connectors grouped by kind, as the Work 365 Admin Hub lists them.
CATALOGUE: dict[str, list[CatalogueEntry]] = {
    "Psa Connectors": [
        CatalogueEntry("datto | Autotask", "/integrations/autotask/new"),
        CatalogueEntry("ConnectWise PSA", None),
        CatalogueEntry("HaloPSA", None),
    ],
    "Accounting Connectors": [
        CatalogueEntry("QuickBooks Online", None),
        CatalogueEntry("Xero", None),
    ],
}

YES_NO_FIELDS = names(Kind.YES_NO)
ID_FIELDS = names(Kind.CHOICE)
FREQUENCY_LABELS: dict[BillingFrequency, str] = {
    BillingFrequency.MONTHLY: "Monthly",
    BillingFrequency.QUARTERLY: "Quarterly",
    BillingFrequency.SEMI_ANNUAL: "Semi-annual",
    BillingFrequency.ANNUAL: "Annual",
    BillingFrequency.TRIENNIAL: "Triennial",
}
OWNER_SOURCE_LABELS: dict[OwnerSource, str] = {
    OwnerSource.FIXED: "Always the chosen resource",
    OwnerSource.ACCOUNT_OWNER_EMAIL: "The resource whose email matches the account owner's, else the chosen resource",
}
BLANK_MANUFACTURER_ROWS = 2


def frequency_field(frequency: BillingFrequency) -> str:
    return f"billing_frequency_{frequency.value}"


def contract_period_field(frequency: BillingFrequency) -> str:
    return f"contract_period_{frequency.value}"


def _int_or_none(raw: str, name: str, errors: dict[str, str]) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        errors[name] = f"'{raw}' is not a valid choice."
        return None


def parse_settings_form(raw: dict[str, str]) -> tuple[AutotaskConnectorSettings | None, dict[str, str]]:
    """The settings a submitted form describes, or the reasons per field it cannot be read."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name in YES_NO_FIELDS:
        value = raw.get(name, "no")
        if value not in ("yes", "no"):
            errors[name] = "Choose Yes or No."
        data[name] = value == "yes"
    for name in ID_FIELDS:
        data[name] = _int_or_none(raw.get(name, ""), name, errors)
    owner_source = raw.get("owner_source", OwnerSource.FIXED.value)
    if owner_source not in {s.value for s in OwnerSource}:
        errors["owner_source"] = "Choose how the owner is found."
    else:
        data["owner_source"] = owner_source
    frequencies: dict[str, int] = {}
    contract_periods: dict[str, int] = {}
    for frequency in BillingFrequency:
        period = _int_or_none(raw.get(frequency_field(frequency), ""), "billing_frequencies", errors)
        if period is not None:
            frequencies[frequency.value] = period
        contract = _int_or_none(raw.get(contract_period_field(frequency), ""), "billing_frequencies", errors)
        if contract is not None:
            contract_periods[frequency.value] = contract
    data["billing_frequencies"] = frequencies
    data["contract_period_types"] = contract_periods
    manufacturers: dict[str, int] = {}
    indexes = sorted(
        {
            int(k.rsplit("_", 1)[1])
            for k in raw
            if k.startswith("manufacturer_") and k.rsplit("_", 1)[1].isdigit()
        }
    )
    for i in indexes:
        name = raw.get(f"manufacturer_name_{i}", "").strip()
        vendor = _int_or_none(raw.get(f"manufacturer_vendor_{i}", ""), "manufacturers", errors)
        if vendor is None:
            continue  # a manufacturer left unmapped
        if not name:
            errors["manufacturers"] = "Each chosen vendor company needs the manufacturer name it stands for."
            continue
        manufacturers[name] = vendor
    data["manufacturers"] = manufacturers
    if errors:
        return None, errors
    try:
        return AutotaskConnectorSettings.model_validate(data), {}
    except ValidationError as exc:
        return None, {str(e["loc"][0]) if e["loc"] else "_": e["msg"] for e in exc.errors()}


@dataclass
class SettingsFormView:
    """Everything the settings section needs to render, values already resolved."""

    values: dict[str, str]
    lists: dict[str, list[opts.Option]]
    manufacturers_enabled: bool
    vendors: list[opts.Option]
    manufacturer_rows: list[tuple[str, str]]
    #: (frequency, label, service period field, chosen, contract period field, chosen)
    frequencies: list[tuple[BillingFrequency, str, str, str, str, str]]
    products: list[opts.Option]
    settings: AutotaskConnectorSettings
    #: required settings with nothing saved and nothing preselected: what the person must still choose
    missing: list[str] = field(default_factory=list)
    #: required settings not saved yet but preselected on the form (saved by the next Save)
    preselected: list[str] = field(default_factory=list)
    owner_sources: dict[OwnerSource, str] = field(default_factory=lambda: dict(OWNER_SOURCE_LABELS))
    #: setting name -> its declaration (label, help text): what the form shows
    specs: dict[str, SettingSpec] = field(default_factory=lambda: dict(BY_NAME))


def _as_form_values(settings: AutotaskConnectorSettings) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in YES_NO_FIELDS:
        values[name] = "yes" if getattr(settings, name) else "no"
    for name in ID_FIELDS:
        value = getattr(settings, name)
        values[name] = "" if value is None else str(value)
    values["owner_source"] = settings.owner_source.value
    for frequency in BillingFrequency:
        period = settings.billing_frequencies.get(frequency)
        values[frequency_field(frequency)] = "" if period is None else str(period)
        contract = settings.contract_period_types.get(frequency)
        values[contract_period_field(frequency)] = "" if contract is None else str(contract)
    return values


def hub_manufacturers(db: Session, organization_id: int) -> list[str]:
    """Distinct manufacturer names of the organization's hub products (rows of the Manufacturers map)."""
    from psabridge.hub.models import Product

    names = db.scalars(
        select(Product.manufacturer)
        .where(Product.organization_id == organization_id, Product.manufacturer.is_not(None))
        .distinct()
    ).all()
    return sorted({n.strip() for n in names if n and n.strip()}, key=str.lower)


def settings_form_view(
    db: Session,
    connector: Connector,
    lists: dict[str, list[opts.Option]],
    *,
    submitted: dict[str, str] | None = None,
) -> SettingsFormView:
    """The form's state: what was submitted (after a refusal), else saved values with the recommended
    ones preselected where nothing is chosen yet."""
    saved = service.connector_settings(connector)
    suggested = service.suggested_settings(saved, lists)
    values = _as_form_values(suggested)
    if submitted is not None:
        values.update({k: v for k, v in submitted.items() if k in values})
    manufacturers_enabled = saved.default_vendor_type is not None
    vendors = lists.get("vendors", []) if manufacturers_enabled else []

    rows: list[tuple[str, str]] = [(name, str(vendor)) for name, vendor in saved.manufacturers.items()]
    known = {name.lower() for name, _ in rows}
    for name in hub_manufacturers(db, connector.organization_id):
        if name.lower() not in known:
            rows.append((name, ""))
    if submitted is not None:
        rows = [
            (submitted.get(f"manufacturer_name_{i}", ""), submitted.get(f"manufacturer_vendor_{i}", ""))
            for i in range(len(rows) + BLANK_MANUFACTURER_ROWS)
            if submitted.get(f"manufacturer_name_{i}") or submitted.get(f"manufacturer_vendor_{i}")
        ]
    rows.extend([("", "")] * BLANK_MANUFACTURER_ROWS)

    frequencies = [
        (
            f,
            FREQUENCY_LABELS[f],
            frequency_field(f),
            values[frequency_field(f)],
            contract_period_field(f),
            values[contract_period_field(f)],
        )
        for f in BillingFrequency
    ]
    products = list(lists.get(opts.PRODUCTS, []))[:50]
    chosen_product = opts.find(lists.get(opts.PRODUCTS, []), _maybe_int(values["default_refund_product_id"]))
    if chosen_product is not None and chosen_product not in products:
        products.insert(0, chosen_product)
    return SettingsFormView(
        values=values,
        lists=lists,
        manufacturers_enabled=manufacturers_enabled,
        vendors=vendors,
        manufacturer_rows=rows,
        frequencies=frequencies,
        products=products,
        settings=saved,
        missing=[service.SETTING_LABELS.get(m, m) for m in suggested.missing_required()],
        preselected=[
            service.SETTING_LABELS.get(m, m)
            for m in saved.missing_required()
            if m not in suggested.missing_required()
        ],
    )


def _maybe_int(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None
