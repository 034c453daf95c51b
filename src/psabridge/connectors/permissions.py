"""Check permissions: harmless probes telling, in plain words, which security-level permission is missing.

Autotask rarely answers a missing permission with a clear 403: a read the user may not make just comes
back empty, a write is refused with an HTTP 500. So each entity the connector needs is probed with the
cheapest harmless calls: its field metadata, a one-record query (an entity every tenant has rows of must
not come back empty) and, for entities the connector writes, a create with an empty body. An empty body
can never create anything (every such entity has required fields), so Autotask answers either "you may
not create this" (missing permission) or "required field missing" (allowed). The outcome is translated
into the name of the permission an Autotask administrator has to grant on the API user's security level.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from psabridge.autotask.errors import (
    AuthenticationError,
    AutotaskConnectionError,
    AutotaskError,
    AutotaskPermissionError,
    RateLimitError,
)
from psabridge.autotask.query import F

if TYPE_CHECKING:
    from psabridge.autotask import AutotaskClient


class ProbeStatus(StrEnum):
    OK = "ok"
    MISSING = "missing"  # the permission is missing (refused, or an error that says so)
    EMPTY = "empty"  # no record visible where a tenant always has some: probably a visibility limit
    ERROR = "error"  # Autotask failed for another reason: the check could not decide


@dataclass(frozen=True)
class Probe:
    """One entity the connector needs and the security-level permission that grants it."""

    entity: str
    permission: str  # where it is granted, in Autotask's own words
    why: str  # what the connector does with it
    expect_rows: bool = False  # a working tenant always has rows here (empty then means "not visible")
    writes: bool = False  # the connector creates these: probe "add" with an empty (invalid) body
    parent: str | None = None  # created through this parent's route (Contacts under Companies)


@dataclass(frozen=True)
class ProbeResult:
    probe: Probe
    status: ProbeStatus
    detail: str

    @property
    def ok(self) -> bool:
        return self.status is ProbeStatus.OK


LOGIN_PERMISSION = "Web Services API login (security level: Other → Web Services API: allowed)"

PROBES: tuple[Probe, ...] = (
    Probe(
        "Companies",
        "CRM → Companies (view, add, edit)",
        "creates and links the customers' companies",
        expect_rows=True,
        writes=True,
    ),
    Probe(
        "Contacts",
        "CRM → Contacts (view, add, edit)",
        "creates each company's primary contact",
        writes=True,
        parent="Companies",
    ),
    Probe(
        "Contracts",
        "Contracts → Contracts (view, add, edit) with full contract visibility",
        "creates Recurring Service contracts, their services, adjustments and charges",
        writes=True,
    ),
    Probe(
        "Products",
        "Inventory → Products (view, add, edit)",
        "creates one-time products and the refund product",
        writes=True,
    ),
    Probe(
        "Services",
        "Admin → Products and Services → Services (view, add, edit)",
        "creates the recurring services of the billing hub's products",
        writes=True,
    ),
    Probe(
        "BillingCodes",
        "Admin → Products and Services → Billing codes (view)",
        "lists the billing codes for products and services",
        expect_rows=True,
    ),
    Probe(
        "Resources",
        "Admin → Resources/Users (view)",
        "chooses the resource that owns created records",
        expect_rows=True,
    ),
)


def _looks_like_permission(exc: AutotaskError) -> bool:
    text = " ".join([str(exc), *exc.messages]).lower()
    return any(
        word in text for word in ("permission", "not authorized", "unauthorized", "access", "security")
    )


def _classify(probe: Probe, exc: AutotaskError) -> ProbeResult:
    if isinstance(exc, AutotaskPermissionError) or _looks_like_permission(exc):
        return ProbeResult(
            probe, ProbeStatus.MISSING, f"Grant '{probe.permission}': the connector {probe.why}."
        )
    return ProbeResult(probe, ProbeStatus.ERROR, f"Autotask failed while checking {probe.entity}: {exc}")


def _write_probe(client: AutotaskClient, probe: Probe, parent_id: int | None) -> ProbeResult | None:
    """Create with an empty body: refused for permission (missing) or for missing fields (allowed)."""
    if probe.parent is not None and parent_id is None:
        return None  # no parent to probe under; the read probes still tell a lot
    try:
        client.create(probe.entity, {}, parent_id=parent_id if probe.parent else None)
    except (AuthenticationError, AutotaskConnectionError, RateLimitError):
        raise
    except AutotaskPermissionError as exc:
        return _classify(probe, exc)
    except AutotaskError as exc:
        if _looks_like_permission(exc):
            return _classify(probe, exc)
        if exc.status_code is not None and exc.status_code >= 500 and not exc.messages:
            return _classify(probe, exc)  # a bare server error says nothing either way
        return None  # refused for the empty body: creating is allowed
    # Never expected (every probed entity has required fields); say so rather than hide it.
    return ProbeResult(
        probe,
        ProbeStatus.ERROR,
        f"Autotask accepted an empty {probe.entity}: check the tenant's required fields.",
    )


def run_probe(client: AutotaskClient, probe: Probe, seen: dict[str, int] | None = None) -> ProbeResult:
    """Probe one entity: its field metadata, a one-record query, and (if written) an empty create.

    ``seen`` collects one visible id per entity, so a child entity is probed under a real parent.
    """
    seen = {} if seen is None else seen
    try:
        client.field_info(probe.entity)
        rows = list(client.query(probe.entity, [F.gte("id", 0)], include_fields=["id"], max_records=1))
    except (AuthenticationError, AutotaskConnectionError, RateLimitError):
        raise  # not about this entity: the whole check stops with one clear message
    except AutotaskError as exc:
        return _classify(probe, exc)
    if rows:
        seen[probe.entity] = int(rows[0]["id"])
    if probe.expect_rows and not rows:
        return ProbeResult(
            probe,
            ProbeStatus.EMPTY,
            f"No {probe.entity} are visible to the API user although every tenant has some: grant "
            f"'{probe.permission}'.",
        )
    if probe.writes:
        parent_id = seen.get(probe.parent) if probe.parent else None
        refused = _write_probe(client, probe, parent_id)
        if refused is not None:
            return refused
    return ProbeResult(probe, ProbeStatus.OK, "Allowed.")


@dataclass(frozen=True)
class PermissionReport:
    login_ok: bool
    login_detail: str
    results: tuple[ProbeResult, ...]

    @property
    def all_ok(self) -> bool:
        return self.login_ok and all(r.ok for r in self.results)

    @property
    def failed(self) -> list[ProbeResult]:
        """Probes that could not decide because Autotask failed (not a permission problem)."""
        return [r for r in self.results if r.status is ProbeStatus.ERROR]

    @property
    def missing(self) -> list[str]:
        """The permissions to grant, in plain words."""
        names = [] if self.login_ok else [LOGIN_PERMISSION]
        return names + [
            r.probe.permission for r in self.results if r.status in (ProbeStatus.MISSING, ProbeStatus.EMPTY)
        ]

    def as_dict(self) -> dict[str, object]:
        return {
            "all_ok": self.all_ok,
            "login": {"ok": self.login_ok, "detail": self.login_detail, "permission": LOGIN_PERMISSION},
            "entities": [
                {
                    "entity": r.probe.entity,
                    "permission": r.probe.permission,
                    "status": r.status.value,
                    "detail": r.detail,
                }
                for r in self.results
            ],
            "missing": self.missing,
        }


def check_permissions(client: AutotaskClient) -> PermissionReport:
    """Run every probe. A refused login raises ``AuthenticationError``: nothing else can be told then."""
    try:
        client.threshold_information()
    except (AuthenticationError, AutotaskConnectionError, RateLimitError):
        raise
    except AutotaskError as exc:
        if isinstance(exc, AutotaskPermissionError) or _looks_like_permission(exc):
            return PermissionReport(False, f"Grant '{LOGIN_PERMISSION}'.", ())
        # ThresholdInformation itself failing says nothing about the entities; go on with them.
    seen: dict[str, int] = {}
    results = tuple(run_probe(client, probe, seen) for probe in PROBES)
    return PermissionReport(True, "The API user can log in to the Web Services API.", results)
