"""Reads of an emulated tenant: one record, filtered queries, children, and their indexes.

Queries are answered from lazily built hash indexes where the filter allows (see
:func:`psabridge.emulator.query.index_hint`), and the contract services of a contract and the
ContractServiceUnits rows of a contract service from indexes kept up to date by every write: a sync's
read-back at hundreds of customers would otherwise scan whole entities per query.
"""

from __future__ import annotations

from typing import Any

from psabridge.emulator.query import compile_filter, index_hint, never
from psabridge.emulator.tenant_state import TenantState


class TenantReads(TenantState):
    """What the API's GET and query endpoints (and the writes' rules) read from the tenant."""

    def get(self, entity: str, item_id: int, parent_id: int | None = None) -> dict[str, Any] | None:
        """One record, or None when missing, invisible (permissions) or under another parent."""
        with self.lock:
            if self.is_denied(entity):
                return None
            record = self._rows(entity).get(item_id)
            if record is None or not self._under_parent(entity, record, parent_id):
                return None
            return dict(record)

    def _under_parent(self, entity: str, record: dict[str, Any], parent_id: int | None) -> bool:
        if parent_id is None:
            return True
        pfield = self.defs[entity].parent_field
        return pfield is not None and record.get(pfield) == parent_id

    def query(self, entity: str, query: Any, parent_id: int | None = None) -> list[dict[str, Any]]:
        """All matching records ordered by id (pagination is the app's job)."""
        edef = self.defs[entity]
        with self.lock:
            predicate = compile_filter(edef, query, self.udf_names(entity))
            if self.is_denied(entity) or predicate is never:
                return []
            rows = self._rows(entity)
            hint = index_hint(edef, query)
            if hint is not None:
                index = self._index(entity, hint[0])
                ids = sorted({i for value in hint[1] for i in index.get(value, ())})
                return [
                    rows[k]
                    for k in ids
                    if k in rows and self._under_parent(entity, rows[k], parent_id) and predicate(rows[k])
                ]
            if parent_id is None:
                return [rows[k] for k in sorted(rows) if predicate(rows[k])]
            return [
                rows[k]
                for k in sorted(rows)
                if self._under_parent(entity, rows[k], parent_id) and predicate(rows[k])
            ]

    def _index(self, entity: str, field: str) -> dict[Any, list[int]]:
        """value (lower-cased text) -> ids, rebuilt lazily after any change."""
        version = (self._version, self._entity_versions.get(entity, 0))
        cached = self._indexes.get((entity, field))
        if cached is not None and cached[0] == version:
            return cached[1]
        index: dict[Any, list[int]] = {}
        for key, record in self._rows(entity).items():
            value = record.get(field)
            if isinstance(value, str):
                value = value.lower()
            index.setdefault(value, []).append(key)
        self._indexes[(entity, field)] = (version, index)
        return index

    def children(self, entity: str, parent_id: int) -> list[dict[str, Any]]:
        """Every record under a parent (``GET /Contracts/{parentId}/Services``)."""
        with self.lock:
            if self.is_denied(entity):
                return []
            pfield = self.defs[entity].parent_field
            if pfield is None:
                return []
            rows = self._rows(entity)
            return [rows[k] for k in sorted(self._index(entity, pfield).get(parent_id, ())) if k in rows]

    # ----- derived indexes of contract services ------------------------------------------------
    def services_of_contract(self, contract_id: int) -> list[dict[str, Any]]:
        """The contract services of a contract, by id (an index, not a scan)."""
        if self._services_of_contract is None:
            index: dict[int, list[int]] = {}
            for key, cs in sorted(self._rows("ContractServices").items()):
                index.setdefault(cs["contractID"], []).append(key)
            self._services_of_contract = index
        rows = self._rows("ContractServices")
        return [rows[k] for k in self._services_of_contract.get(contract_id, ()) if k in rows]

    def add_contract_service(self, cs: dict[str, Any]) -> None:
        """Store a new contract service (from a create or an adjustment) and index it."""
        self._rows("ContractServices")[cs["id"]] = cs
        self._touch("records", cs["id"], "ContractServices")
        if self._services_of_contract is not None:
            self._services_of_contract.setdefault(cs["contractID"], []).append(cs["id"])

    def unit_row_ids(self, cs_id: int) -> list[int]:
        """Ids of the ContractServiceUnits rows of a contract service (an index, not a scan)."""
        if self._units_of_service is None:
            index: dict[int, list[int]] = {}
            for key, row in self._rows("ContractServiceUnits").items():
                index.setdefault(row["contractServiceID"], []).append(key)
            self._units_of_service = index
        return self._units_of_service.setdefault(cs_id, [])
