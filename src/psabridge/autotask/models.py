"""Typed values the client returns or takes: credentials, zone, field metadata, picklist values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr


class AutotaskCredentials:
    """An Autotask API user's credentials.

    The secret is held as a :class:`pydantic.SecretStr`: it never appears in ``repr``/``str``, logs or
    error messages; only :meth:`headers` reveals it, to build the request headers.
    """

    __slots__ = ("impersonation_resource_id", "integration_code", "secret", "username")

    def __init__(
        self,
        username: str,
        secret: str | SecretStr,
        integration_code: str,
        impersonation_resource_id: int | None = None,
    ) -> None:
        if not username or not str(username).strip():
            raise ValueError("Autotask username is required")
        if not integration_code or not str(integration_code).strip():
            raise ValueError("Autotask integration code is required")
        self.username = str(username).strip()
        self.secret = secret if isinstance(secret, SecretStr) else SecretStr(str(secret))
        if not self.secret.get_secret_value():
            raise ValueError("Autotask secret is required")
        self.integration_code = str(integration_code).strip()
        self.impersonation_resource_id = impersonation_resource_id

    def headers(self) -> dict[str, str]:
        """The authentication headers Autotask expects on every call."""
        headers = {
            "ApiIntegrationCode": self.integration_code,
            "UserName": self.username,
            "Secret": self.secret.get_secret_value(),
        }
        if self.impersonation_resource_id is not None:
            headers["ImpersonationResourceId"] = str(self.impersonation_resource_id)
        return headers

    def __repr__(self) -> str:
        return (
            f"AutotaskCredentials(username={self.username!r}, secret='**********', "
            f"integration_code={self.integration_code!r}, "
            f"impersonation_resource_id={self.impersonation_resource_id!r})"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AutotaskCredentials):
            return NotImplemented
        return (
            self.username == other.username
            and self.secret.get_secret_value() == other.secret.get_secret_value()
            and self.integration_code == other.integration_code
            and self.impersonation_resource_id == other.impersonation_resource_id
        )

    def __hash__(self) -> int:
        return hash((self.username, self.integration_code, self.impersonation_resource_id))


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    """Result of ``zoneInformation``: the zone and the API address (``url``, ending in ``/ATServicesRest/``)."""

    zone_name: str
    url: str
    web_url: str
    ci: int | None = None

    @property
    def api_base(self) -> str:
        """The versioned REST base, e.g. ``https://webservices5.autotask.net/ATServicesRest/V1.0/``."""
        return normalize_base_url(self.url)


def normalize_base_url(url: str) -> str:
    """``.../ATServicesRest`` or ``.../ATServicesRest/V1.0`` (any case, any trailing slash) -> ``.../V1.0/``."""
    base = url.strip().rstrip("/")
    if not base.lower().endswith("/v1.0"):
        base += "/V1.0"
    return base + "/"


@dataclass(frozen=True, slots=True)
class PicklistValue:
    """One picklist entry. ``value`` is the tenant's id (a string in metadata, an int in entity bodies)."""

    value: int
    label: str
    is_active: bool = True
    is_default: bool = False
    sort_order: int | None = None
    parent_value: str | None = None
    is_system: bool = False

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> PicklistValue:
        parent = raw.get("parentValue")
        return cls(
            value=int(raw["value"]),
            label=str(raw.get("label") or ""),
            is_active=bool(raw.get("isActive", True)),
            is_default=bool(raw.get("isDefaultValue", False)),
            sort_order=raw.get("sortOrder"),
            parent_value=str(parent) if parent not in (None, "") else None,
            is_system=bool(raw.get("isSystem", False)),
        )


def _picklist(raw: dict[str, Any]) -> tuple[PicklistValue, ...]:
    values = []
    for item in raw.get("picklistValues") or []:
        try:
            values.append(PicklistValue.from_api(item))
        except (KeyError, TypeError, ValueError):
            continue  # a non-numeric id cannot be written into an integer field anyway
    return tuple(values)


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One field of ``/{Entity}/entityInformation/fields``."""

    name: str
    data_type: str
    length: int | None = None
    is_required: bool = False
    is_read_only: bool = False
    is_queryable: bool = True
    is_reference: bool = False
    reference_entity_type: str | None = None
    is_picklist: bool = False
    picklist_values: tuple[PicklistValue, ...] = field(default_factory=tuple)
    picklist_parent_value_field: str | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> FieldInfo:
        return cls(
            name=str(raw["name"]),
            data_type=str(raw.get("dataType") or ""),
            length=raw.get("length"),
            is_required=bool(raw.get("isRequired", False)),
            is_read_only=bool(raw.get("isReadOnly", False)),
            is_queryable=bool(raw.get("isQueryable", True)),
            is_reference=bool(raw.get("isReference", False)),
            reference_entity_type=raw.get("referenceEntityType") or None,
            is_picklist=bool(raw.get("isPickList", False)),
            picklist_values=_picklist(raw),
            picklist_parent_value_field=raw.get("picklistParentValueField") or None,
        )


@dataclass(frozen=True, slots=True)
class UdfInfo:
    """One user-defined field of ``/{Entity}/entityInformation/userDefinedFields``."""

    name: str
    label: str
    data_type: str
    is_required: bool = False
    is_read_only: bool = False
    is_picklist: bool = False
    picklist_values: tuple[PicklistValue, ...] = field(default_factory=tuple)
    default_value: str | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> UdfInfo:
        return cls(
            name=str(raw["name"]),
            label=str(raw.get("label") or raw["name"]),
            data_type=str(raw.get("type") or raw.get("dataType") or ""),
            is_required=bool(raw.get("isRequired", False)),
            is_read_only=bool(raw.get("isReadOnly", False)),
            is_picklist=bool(raw.get("isPickList", False)),
            picklist_values=_picklist(raw),
            default_value=raw.get("defaultValue"),
        )


__all__ = [
    "AutotaskCredentials",
    "FieldInfo",
    "PicklistValue",
    "UdfInfo",
    "ZoneInfo",
    "normalize_base_url",
]
