"""Record types and the matching keys the engine writes into Autotask records.

A matching key is short (Autotask number fields are limited), unique per organization and record and
stable for the record's life. It is written into a field a person rarely edits, so a re-run, a second
installation on the same database, or recovery after a crash finds the record by one batched ``in`` query
instead of guessing by name (name alone never links).
"""

from __future__ import annotations

from dataclasses import dataclass

from psabridge.connectors.settings import BillingFrequency


@dataclass(frozen=True)
class RecordType:
    """How one kind of hub record maps onto Autotask."""

    name: str
    phase: str  # the PSA Integration tab / apply phase
    entity: str  # Autotask entity
    key_field: str | None  # Autotask field carrying the matching key (None: reconciled otherwise)
    code: str  # letter(s) used in the matching key


FREQ_CODES: dict[str, str] = {
    BillingFrequency.MONTHLY.value: "M",
    BillingFrequency.QUARTERLY.value: "Q",
    BillingFrequency.SEMI_ANNUAL.value: "H",
    BillingFrequency.ANNUAL.value: "Y",
    BillingFrequency.TRIENNIAL.value: "T",
}

#: Apply order: each phase only references records of earlier phases.
PHASES: tuple[str, ...] = ("products", "customers", "agreements", "services", "changes", "charges")

_TYPES = [
    RecordType("product", "products", "Products", "externalProductID", "P"),
    RecordType("account", "customers", "Companies", "companyNumber", "A"),
    RecordType("contact", "customers", "Contacts", "externalID", "C"),
    RecordType("billing_contract", "agreements", "Contracts", "contractNumber", "K"),
    RecordType("subscription", "services", "ContractServices", "internalDescription", "U"),
    # Adjustments cannot be read back: they are reconciled through ContractServiceUnits.
    RecordType("subscription_start", "changes", "ContractServiceAdjustments", None, "I"),
    RecordType("license_change_log", "changes", "ContractServiceAdjustments", None, "L"),
    RecordType("cancellation", "changes", "ContractServiceAdjustments", None, "X"),
    # an archived change log that had been pushed is corrected by an opposite adjustment
    RecordType("reversal", "changes", "ContractServiceAdjustments", None, "V"),
    RecordType("refund", "charges", "ContractCharges", "purchaseOrderNumber", "R"),
]
for _freq, _code in FREQ_CODES.items():
    _TYPES.append(RecordType(f"service.{_freq}", "products", "Services", "externalID", f"S{_code}"))

RECORD_TYPES: dict[str, RecordType] = {t.name: t for t in _TYPES}


def service_type(frequency: str) -> str:
    """Record type of the Autotask Service of a product sold at ``frequency``."""
    return f"service.{frequency}"


def matching_key(organization_id: int, record_type: str, hub_id: int) -> str:
    """The key written into the Autotask record, e.g. ``PSB1-A42`` (organization 1, account 42)."""
    return f"PSB{organization_id}-{RECORD_TYPES[record_type].code}{hub_id}"


def ref(record_type: str, hub_id: int) -> str:
    """A reference to another record's Autotask id, resolved when the operation runs."""
    return f"{record_type}:{hub_id}"


def parse_ref(value: str) -> tuple[str, int]:
    record_type, _, hub_id = value.rpartition(":")
    return record_type, int(hub_id)
