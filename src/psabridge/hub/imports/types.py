"""The importable record types: their row schema, model, and the columns that reference other records by
external id. Listed in dependency order, which is also the order a multi-type import is applied in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel

from psabridge.hub.models import (
    Account,
    BillingContract,
    Contact,
    HubRecord,
    LicenseChangeLog,
    Product,
    Subscription,
)
from psabridge.hub.schemas.accounts import AccountRow, ContactRow
from psabridge.hub.schemas.contracts import BillingContractRow, LicenseChangeLogRow, SubscriptionRow
from psabridge.hub.schemas.products import ProductRow


@dataclass(frozen=True)
class RecordType:
    name: str
    plural: str
    model: type[HubRecord]
    row_schema: type[BaseModel]
    #: row field -> (referenced type name, model column holding the resolved id)
    refs: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: row fields that are not model columns (handled by the runner)
    virtual: frozenset[str] = frozenset()
    #: columns an import may not change on an existing record
    fixed: frozenset[str] = frozenset()


RECORD_TYPES: dict[str, RecordType] = {
    t.name: t
    for t in (
        RecordType(
            "account",
            "accounts",
            Account,
            AccountRow,
            virtual=frozenset({"primary_contact_external_id"}),
        ),
        RecordType(
            "contact",
            "contacts",
            Contact,
            ContactRow,
            refs={"account_external_id": ("account", "account_id")},
            virtual=frozenset({"is_primary"}),
            fixed=frozenset({"account_id"}),
        ),
        RecordType("product", "products", Product, ProductRow),
        RecordType(
            "billing_contract",
            "billing_contracts",
            BillingContract,
            BillingContractRow,
            refs={"account_external_id": ("account", "account_id")},
            fixed=frozenset({"account_id", "contract_type"}),
        ),
        RecordType(
            "subscription",
            "subscriptions",
            Subscription,
            SubscriptionRow,
            refs={
                "billing_contract_external_id": ("billing_contract", "billing_contract_id"),
                "product_external_id": ("product", "product_id"),
            },
            fixed=frozenset({"billing_contract_id", "product_id"}),
        ),
        RecordType(
            "license_change_log",
            "license_change_logs",
            LicenseChangeLog,
            LicenseChangeLogRow,
            refs={"subscription_external_id": ("subscription", "subscription_id")},
        ),
    )
}


def normalize_type(name: str) -> str | None:
    """``"Billing-Contracts"`` / ``"billing_contract"`` / ``"subscriptions"`` -> the type name, else None."""
    key = re.sub(r"[^a-z]+", "_", name.strip().lower()).strip("_")
    for t in RECORD_TYPES.values():
        if key in {t.name, t.plural}:
            return t.name
    aliases = {"logs": "license_change_log", "log": "license_change_log", "contracts": "billing_contract"}
    aliases |= {"contract": "billing_contract", "customers": "account", "customer": "account"}
    return aliases.get(key)


def type_from_filename(stem: str) -> str | None:
    """Guess the type from a file name such as ``acme-subscriptions.csv`` (longest type name wins)."""
    key = re.sub(r"[^a-z]+", "_", stem.lower())
    for t in sorted(RECORD_TYPES.values(), key=lambda t: -len(t.name)):
        if t.name in key:
            return t.name
    for token in reversed(key.split("_")):
        found = normalize_type(token)
        if found is not None:
            return found
    return None
