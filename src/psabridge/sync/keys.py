"""Record types and the matching keys the engine writes into Autotask records.

The declarations live with their record modules (:mod:`psabridge.sync.records`); this module is the
short import for everything that only needs the registry and the key helpers.
"""

from __future__ import annotations

from psabridge.sync.records import PHASES, RECORD_TYPES
from psabridge.sync.records.base import RecordType, parse_ref, ref
from psabridge.sync.records.products import FREQ_CODES, service_type


def matching_key(organization_id: int, record_type: str, hub_id: int) -> str:
    """The key written into the Autotask record, e.g. ``PSB1-A42`` (organization 1, account 42)."""
    return RECORD_TYPES[record_type].key(organization_id, hub_id)


__all__ = [
    "FREQ_CODES",
    "PHASES",
    "RECORD_TYPES",
    "RecordType",
    "matching_key",
    "parse_ref",
    "ref",
    "service_type",
]
