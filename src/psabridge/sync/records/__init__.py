"""One module per record type of the sync (see :mod:`psabridge.sync.records.base`).

``MODULES`` is the apply order (each module's records only depend on earlier modules'); the planner
runs their ``plan`` steps in that order, the reader asks each which hub records to look up by key and
which fields to read back. A new record type is one new module added here. Corrections (approved
reconciliation fixes) are journaled like the sync's writes but never planned by it: their type is
registered without a module.
"""

from __future__ import annotations

from psabridge.sync.records import agreements, changes, charges, corrections, customers, products, services
from psabridge.sync.records.base import PHASES, RecordType
from psabridge.sync.records.context import RecordModule

MODULES: tuple[RecordModule, ...] = (
    products.MODULE,
    customers.MODULE,
    agreements.MODULE,
    services.MODULE,
    changes.MODULE,
    charges.MODULE,
)

RECORD_TYPES: dict[str, RecordType] = {t.name: t for module in MODULES for t in module.types}
# Not planned by the sync: approved reconciliation fixes the journal records (see ``corrections``).
RECORD_TYPES[corrections.CORRECTION.name] = corrections.CORRECTION

#: Fields read back with a record found by key, per Autotask entity.
INCLUDE_FIELDS: dict[str, list[str]] = {
    entity: fields for module in MODULES for entity, fields in module.include_fields.items()
}

__all__ = ["INCLUDE_FIELDS", "MODULES", "PHASES", "RECORD_TYPES", "RecordModule", "RecordType"]
