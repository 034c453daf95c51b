"""Tenant metadata through the client: fields, picklists (looked up by label, never hard-coded) and
UDFs, cached per tenant for the whole process (:mod:`psabridge.autotask.caches`): each read costs a call
of the tenant's shared hourly budget and the answers change rarely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psabridge.autotask.caches import METADATA_CACHE, cache_lock
from psabridge.autotask.models import FieldInfo, PicklistValue, UdfInfo
from psabridge.autotask.sending import RequestSending


class MetadataReads(RequestSending):
    """The metadata reads of :class:`psabridge.autotask.client.AutotaskClient` (mixed into it)."""

    def _tenant_key(self) -> tuple[str, str]:
        return (self.base_url.lower(), self.credentials.username.lower())

    def _cached(self, entity: str, kind: str, fetch: Callable[[], Any]) -> Any:
        key = (*self._tenant_key(), entity, kind)
        with cache_lock:
            if key in METADATA_CACHE:
                return METADATA_CACHE[key]
        value = fetch()
        with cache_lock:
            METADATA_CACHE[key] = value
        return value

    def refresh_metadata(self, entity: str | None = None) -> None:
        """Drop cached fields/picklists/UDFs of this tenant (one entity, or all)."""
        base, user = self._tenant_key()
        with cache_lock:
            for key in [k for k in METADATA_CACHE if k[0] == base and k[1] == user]:
                if entity is None or key[2] == entity:
                    del METADATA_CACHE[key]

    def field_info(self, entity: str) -> list[FieldInfo]:
        """The entity's fields with their picklists (``entityInformation/fields``), cached per tenant."""
        self._require_root(entity, "fields")

        def fetch() -> list[FieldInfo]:
            data = self._request("GET", f"{entity}/entityInformation/fields", entity=entity, verb="fields")
            return [FieldInfo.from_api(f) for f in (data.get("fields") or [])]

        return list(self._cached(entity, "fields", fetch))

    def picklist(self, entity: str, field: str, *, include_inactive: bool = False) -> list[PicklistValue]:
        """The picklist of ``entity.field`` (active values only unless asked), in Autotask's sort order."""
        for info in self.field_info(entity):
            if info.name.lower() == field.lower():
                if not info.is_picklist:
                    raise ValueError(f"{entity}.{info.name} is not a picklist field")
                values = [v for v in info.picklist_values if include_inactive or v.is_active]
                return sorted(
                    values, key=lambda v: (v.sort_order if v.sort_order is not None else 0, v.value)
                )
        raise ValueError(f"{entity} has no field {field!r}")

    def picklist_value(self, entity: str, field: str, label: str, *, include_inactive: bool = False) -> int:
        """The tenant's id for ``label`` (case-insensitive) in ``entity.field``'s picklist."""
        wanted = label.strip().casefold()
        values = self.picklist(entity, field, include_inactive=include_inactive)
        for value in values:
            if value.label.strip().casefold() == wanted:
                return value.value
        labels = ", ".join(repr(v.label) for v in values)
        raise LookupError(
            f"{entity}.{field} has no {'' if include_inactive else 'active '}value {label!r} ({labels})"
        )

    def picklist_label(self, entity: str, field: str, value: int | str) -> str | None:
        """The label of a picklist id (inactive values included), or ``None``."""
        for item in self.picklist(entity, field, include_inactive=True):
            if item.value == int(value):
                return item.label
        return None

    def udfs(self, entity: str) -> list[UdfInfo]:
        """The entity's user-defined fields, cached per tenant."""
        self._require_root(entity, "udfs")

        def fetch() -> list[UdfInfo]:
            data = self._request(
                "GET", f"{entity}/entityInformation/userDefinedFields", entity=entity, verb="udfs"
            )
            return [UdfInfo.from_api(f) for f in (data.get("fields") or [])]

        return list(self._cached(entity, "udfs", fetch))
