"""Live dropdown options of the Autotask connector's settings, read from the tenant and cached.

Every option comes from the connected tenant (picklist ids differ per tenant and are never hard-coded).
Each list costs at least one call against the tenant's shared hourly budget, so it is cached per
connector in ``connector_option_cache`` and only re-read on an explicit refresh, or when a value the user
chose is not in the cached list (it may be newer than the cache).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from psabridge.autotask.errors import AutotaskError
from psabridge.autotask.query import F
from psabridge.connectors.errors import explain_api_error
from psabridge.connectors.models import Connector, ConnectorOptionCache
from psabridge.db import utcnow

if TYPE_CHECKING:
    from psabridge.autotask import AutotaskClient


class Option(BaseModel):
    """One choice of a dropdown: the tenant's id and the label a person recognises."""

    value: int
    label: str
    is_active: bool = True
    is_default: bool = False
    detail: str = ""  # e.g. a resource's email, a product's SKU


# Dropdowns filled from a picklist of ``entityInformation/fields``: key -> (entity, field).
PICKLISTS: dict[str, tuple[str, str]] = {
    "company_types": ("Companies", "companyType"),
    "contract_types": ("Contracts", "contractType"),
    "billing_preferences": ("Contracts", "billingPreference"),
    "charge_types": ("ContractCharges", "chargeType"),
    "period_types": ("Services", "periodType"),
    "contract_period_types": ("Contracts", "contractPeriodType"),
    # not a setting: the reconciliation tells an inactive contract by it (cached like the others)
    "contract_statuses": ("Contracts", "status"),
}
PRODUCT_BILLING_CODES = "product_billing_codes"
SERVICE_BILLING_CODES = "service_billing_codes"
RESOURCES = "resources"
PRODUCTS = "products"
VENDORS_PREFIX = "vendors:"
#: Maximum lengths of the string fields of every entity the sync writes (label ``Entity.field``, value
#: the length), from ``entityInformation/fields``: the sync checks values against them while planning.
FIELD_LENGTHS = "field_lengths"
WRITTEN_ENTITIES = (
    "Companies",
    "Contacts",
    "Contracts",
    "Services",
    "Products",
    "ContractServices",
    "ContractCharges",
)

ClientFactory = Callable[[], "AutotaskClient"]


def vendors_key(vendor_type: int) -> str:
    """Cache key of the vendor companies of one company type."""
    return f"{VENDORS_PREFIX}{vendor_type}"


def all_static_keys() -> list[str]:
    """Every option key that does not depend on a saved setting."""
    return [*PICKLISTS, PRODUCT_BILLING_CODES, SERVICE_BILLING_CODES, RESOURCES, PRODUCTS]


def _picklist(client: AutotaskClient, entity: str, field: str) -> list[Option]:
    return [
        Option(value=int(v.value), label=v.label, is_active=v.is_active, is_default=v.is_default)
        for v in client.picklist(entity, field, include_inactive=True)
    ]


def _classify_use_types(client: AutotaskClient) -> tuple[set[int], set[int]] | None:
    """Which BillingCodes.useType values are material (product) codes and recurring-service codes.

    Read from the tenant's labels (ids are never hard-coded); None when the tenant's metadata does not
    tell, and then every active code is offered for both.
    """
    material: set[int] = set()
    recurring: set[int] = set()
    try:
        values = client.picklist("BillingCodes", "useType")
    except (AutotaskError, KeyError, ValueError):
        values = []
    for v in values:
        label = v.label.lower()
        if "material" in label or "product" in label:
            material.add(int(v.value))
        elif "recurring" in label or "service" in label:
            recurring.add(int(v.value))
    if not material and not recurring:
        return None
    return material, recurring


def _billing_codes(client: AutotaskClient) -> dict[str, list[Option]]:
    classes = _classify_use_types(client)
    products: list[Option] = []
    services: list[Option] = []
    rows = client.query(
        "BillingCodes",
        [F.eq("isActive", True)],
        include_fields=["id", "name", "useType", "isActive", "externalNumber"],
    )
    for row in rows:
        use_type = row.get("useType")
        option = Option(
            value=int(row["id"]),
            label=str(row.get("name") or f"Billing code {row['id']}"),
            is_active=bool(row.get("isActive", True)),
            detail=str(row.get("externalNumber") or ""),
        )
        if classes is None or use_type in classes[0]:
            products.append(option)
        if classes is None or use_type in classes[1]:
            services.append(option)
    return {
        PRODUCT_BILLING_CODES: _sorted(products),
        SERVICE_BILLING_CODES: _sorted(services),
    }


def _api_only_license_types(client: AutotaskClient) -> set[int]:
    """Resources.licenseType values of API-only users, by the tenant's labels (they cannot own records)."""
    try:
        values = client.picklist("Resources", "licenseType", include_inactive=True)
    except (AutotaskError, ValueError):
        return set()
    return {int(v.value) for v in values if "api" in v.label.lower()}


def _resources(client: AutotaskClient) -> list[Option]:
    api_only = _api_only_license_types(client)
    rows = client.query(
        "Resources",
        [F.eq("isActive", True)],
        include_fields=["id", "firstName", "lastName", "email", "isActive", "licenseType"],
    )
    return _sorted(
        Option(
            value=int(r["id"]),
            label=" ".join(p for p in (r.get("firstName"), r.get("lastName")) if p) or f"Resource {r['id']}",
            is_active=bool(r.get("isActive", True)),
            detail=str(r.get("email") or ""),
        )
        for r in rows
        if r.get("licenseType") not in api_only
    )


def _products(client: AutotaskClient) -> list[Option]:
    rows = client.query(
        "Products",
        [F.eq("isActive", True)],
        include_fields=["id", "name", "sku", "isActive"],
    )
    return _sorted(
        Option(
            value=int(r["id"]),
            label=str(r.get("name") or f"Product {r['id']}"),
            is_active=bool(r.get("isActive", True)),
            detail=str(r.get("sku") or ""),
        )
        for r in rows
    )


def _vendors(client: AutotaskClient, vendor_type: int) -> list[Option]:
    rows = client.query(
        "Companies",
        [F.eq("companyType", vendor_type), F.eq("isActive", True)],
        include_fields=["id", "companyName", "isActive"],
    )
    return _sorted(
        Option(
            value=int(r["id"]),
            label=str(r.get("companyName") or f"Company {r['id']}"),
            is_active=bool(r.get("isActive", True)),
        )
        for r in rows
    )


def _field_lengths(client: AutotaskClient) -> list[Option]:
    return [
        Option(value=int(info.length), label=f"{entity}.{info.name}", detail=info.data_type)
        for entity in WRITTEN_ENTITIES
        for info in client.field_info(entity)
        if info.length and info.data_type.lower() == "string"
    ]


def field_lengths(
    session: Session, connector: Connector, client_factory: ClientFactory
) -> dict[str, dict[str, int]]:
    """Entity -> lower-cased field name -> maximum length, cached with the connector's other options
    (read once: seven metadata calls; "Refresh options" reads them again)."""
    out: dict[str, dict[str, int]] = {}
    for option in get_options(session, connector, FIELD_LENGTHS, client_factory):
        entity, _, name = option.label.partition(".")
        out.setdefault(entity, {})[name.lower()] = option.value
    return out


def _sorted(options: Iterable[Option]) -> list[Option]:
    return sorted(options, key=lambda o: (o.label.lower(), o.value))


def fetch_options(client: AutotaskClient, key: str) -> dict[str, list[Option]]:
    """Read ``key`` from the tenant; may return sibling keys read by the same calls (billing codes)."""
    if key in PICKLISTS:
        entity, field = PICKLISTS[key]
        return {key: _picklist(client, entity, field)}
    if key in (PRODUCT_BILLING_CODES, SERVICE_BILLING_CODES):
        return _billing_codes(client)
    if key == RESOURCES:
        return {key: _resources(client)}
    if key == PRODUCTS:
        return {key: _products(client)}
    if key.startswith(VENDORS_PREFIX):
        return {key: _vendors(client, int(key.removeprefix(VENDORS_PREFIX)))}
    if key == FIELD_LENGTHS:
        return {key: _field_lengths(client)}
    raise ValueError(f"unknown option list {key!r}")


def _store(session: Session, connector: Connector, lists: dict[str, list[Option]]) -> None:
    now = utcnow()
    for key, options in lists.items():
        session.execute(
            delete(ConnectorOptionCache).where(
                ConnectorOptionCache.connector_id == connector.id, ConnectorOptionCache.key == key
            )
        )
        session.add(
            ConnectorOptionCache(
                connector_id=connector.id,
                key=key,
                json=[o.model_dump() for o in options],
                fetched_at=now,
            )
        )
    try:
        session.commit()
    except IntegrityError:
        # Another request cached the same list at the same moment; its copy is as good as ours.
        session.rollback()


def cached_options(session: Session, connector: Connector, key: str) -> list[Option] | None:
    """The cached list for ``key``, or None when it was never read (or was refreshed away)."""
    row = session.scalar(
        select(ConnectorOptionCache).where(
            ConnectorOptionCache.connector_id == connector.id, ConnectorOptionCache.key == key
        )
    )
    if row is None:
        return None
    return [Option.model_validate(item) for item in row.json]


def get_options(
    session: Session, connector: Connector, key: str, client_factory: ClientFactory, *, refresh: bool = False
) -> list[Option]:
    """The options of ``key``: from the cache, else (or when ``refresh``) read live and cached."""
    if not refresh:
        cached = cached_options(session, connector, key)
        if cached is not None:
            return cached
    try:
        lists = fetch_options(client_factory(), key)
    except AutotaskError as exc:
        raise explain_api_error(exc, action="read the dropdown options from Autotask") from exc
    _store(session, connector, lists)
    return lists[key]


def option_fetched_at(session: Session, connector: Connector) -> datetime | None:
    """When the oldest cached list was read (None when nothing is cached), shown next to Refresh."""
    rows = session.scalars(
        select(ConnectorOptionCache.fetched_at).where(ConnectorOptionCache.connector_id == connector.id)
    ).all()
    return min(rows) if rows else None


def clear_options(session: Session, connector: Connector) -> None:
    """Forget every cached list of ``connector`` (the Refresh action, or new credentials)."""
    session.execute(delete(ConnectorOptionCache).where(ConnectorOptionCache.connector_id == connector.id))
    session.commit()


def search(options: list[Option], query: str, *, limit: int = 50) -> list[Option]:
    """Options whose label or detail contains every word of ``query`` (case-insensitive)."""
    words = query.lower().split()
    hits = [o for o in options if all(w in f"{o.label} {o.detail}".lower() for w in words)]
    return hits[:limit]


def find(options: list[Option], value: int | None) -> Option | None:
    """The option with ``value``, if listed."""
    if value is None:
        return None
    return next((o for o in options if o.value == value), None)


def find_by_label(options: list[Option], *labels: str) -> Option | None:
    """The first active option whose label equals one of ``labels`` (case-insensitive), in that order."""
    for label in labels:
        for o in options:
            if o.is_active and o.label.strip().lower() == label.lower():
                return o
    return None
