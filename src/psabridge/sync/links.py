"""The user's link decisions for "Needs link" rows: link a hub record to an existing Autotask record, or
choose Add New. The REST API, the PSA Integration screen and bulk confirmation all go through
:func:`decide_link`, so one set of checks holds wherever a decision comes from.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from psabridge.config import Settings
from psabridge.hub import models as hub
from psabridge.sync import journal as jr
from psabridge.sync.connector import client_of, connector_of
from psabridge.sync.errors import SyncError
from psabridge.sync.keys import RECORD_TYPES
from psabridge.sync.models import SyncLink
from psabridge.sync.planner import PENDING

LINKABLE = (
    "account",
    "product",
    "billing_contract",
    *tuple(t for t in RECORD_TYPES if t.startswith("service.")),
)


class LinkRefused(SyncError):
    """A link decision breaks a rule: the Autotask record is missing or already holds another hub record,
    or the hub record is synced elsewhere. Nothing was stored."""


class HubRecordMissing(SyncError):
    """The hub record does not exist in the caller's organization (another tenant's counts as missing)."""


class AutotaskReader(Protocol):
    """What a link check needs of the Autotask client: read one record by id."""

    def get(self, entity: str, id: int, *, parent_id: int | None = None) -> dict[str, Any] | None: ...


_HUB_MODELS: dict[str, Any] = {
    "account": hub.Account,
    "product": hub.Product,
    "billing_contract": hub.BillingContract,
    "subscription": hub.Subscription,
}


def hub_record_exists(session: Session, organization_id: int, record_type: str, hub_id: int) -> bool:
    """Whether ``hub_id`` is a record of this organization (link decisions never cross tenants)."""
    model = _HUB_MODELS.get("product" if record_type.startswith("service.") else record_type)
    if model is None:
        return False
    record = session.get(model, hub_id)
    return record is not None and record.organization_id == organization_id


def check_link_rules(
    session: Session, organization_id: int, record_type: str, hub_id: int, autotask_id: int
) -> str:
    """The database half of a link check (no API call); returns the Autotask entity.

    Refuses a link that would give one Autotask record two hub records (the next sync would overwrite the
    first one's fields with the second's), or move a record already synced to another Autotask record.
    One organization has one Autotask connector, so its links are scoped by organization.
    """
    if record_type not in LINKABLE:
        raise LinkRefused(f"Records of type {record_type!r} cannot be linked by hand")
    entity = RECORD_TYPES[record_type].entity
    own = session.scalar(
        select(SyncLink).where(
            SyncLink.organization_id == organization_id,
            SyncLink.record_type == record_type,
            SyncLink.hub_id == hub_id,
        )
    )
    if own is not None and own.status == "synced" and own.autotask_id not in (None, autotask_id):
        raise LinkRefused(
            f"This record is already synced to Autotask {entity} #{own.autotask_id}; "
            "it cannot be moved to another Autotask record"
        )
    other = session.scalar(
        select(SyncLink).where(
            SyncLink.organization_id == organization_id,
            SyncLink.autotask_entity == entity,
            SyncLink.autotask_id == autotask_id,
            or_(SyncLink.record_type != record_type, SyncLink.hub_id != hub_id),
        )
    )
    if other is not None:
        raise LinkRefused(
            f"Autotask {entity} #{autotask_id} is already linked to another hub record "
            f"({other.record_type} {other.hub_id}); one Autotask record holds one hub record"
        )
    return entity


def read_link_target(client: AutotaskReader, entity: str, autotask_id: int) -> dict[str, Any]:
    """The Autotask record a link points at, read back (one ``get``): a crafted or stale id is refused
    here instead of surfacing as a failed update in the next sync."""
    item = client.get(entity, autotask_id)
    if item is None:
        raise LinkRefused(f"Autotask {entity} #{autotask_id} does not exist or is not visible")
    return item


def decide_link(
    session: Session,
    organization_id: int,
    record_type: str,
    hub_id: int,
    *,
    autotask_id: int | None = None,
    add_new: bool = False,
    client: AutotaskReader | None = None,
    app_settings: Settings | None = None,
) -> SyncLink:
    """Every link decision (REST API, PSA Integration screen, bulk) goes through here, with one set of
    checks: the hub record exists in the caller's organization, the Autotask record is not linked to
    another hub record, and it exists in Autotask. A target the last plan suggested (it read it from
    Autotask) is not read again, so confirming suggestions in bulk costs no API call; any other id is
    read back with ``client`` (or a client of the organization's connector built from ``app_settings``).
    """
    if record_type not in LINKABLE:
        raise LinkRefused(f"Records of type {record_type!r} cannot be linked by hand")
    if not hub_record_exists(session, organization_id, record_type, hub_id):
        raise HubRecordMissing(
            f"No {record_type.split('.')[0].replace('_', ' ')} {hub_id} in this organization"
        )
    if add_new:
        return choose_add_new(session, organization_id, record_type, hub_id)
    if autotask_id is None:
        raise LinkRefused("Give the Autotask id to link, or choose Add New")
    entity = check_link_rules(session, organization_id, record_type, hub_id, autotask_id)
    link = _decision_link(session, organization_id, record_type, hub_id)
    suggested = {int(c["id"]) for c in (link.candidates or []) if str(c.get("id", "")).isdigit()}
    if autotask_id not in suggested:
        if client is not None:
            read_link_target(client, entity, autotask_id)
        else:
            if app_settings is None:
                raise SyncError("Checking the Autotask record needs the application settings")
            connector, _ = connector_of(session, organization_id)
            own_client = client_of(connector, app_settings)
            try:
                read_link_target(cast(AutotaskReader, own_client), entity, autotask_id)
            finally:
                close = getattr(own_client, "close", None)
                if close is not None:
                    close()
    return link_record(session, organization_id, record_type, hub_id, autotask_id)


def _decision_link(session: Session, organization_id: int, record_type: str, hub_id: int) -> SyncLink:
    if record_type not in LINKABLE:
        raise SyncError(f"Records of type {record_type!r} cannot be linked by hand")
    connector, _ = connector_of(session, organization_id)
    return jr.get_or_create_link(session, organization_id, connector.id, record_type, hub_id)


def link_record(
    session: Session, organization_id: int, record_type: str, hub_id: int, autotask_id: int
) -> SyncLink:
    """Link a hub record to an existing Autotask record (the next sync writes the owned fields and
    the matching key into it, and never creates a second one)."""
    link = _decision_link(session, organization_id, record_type, hub_id)
    link.autotask_id = int(autotask_id)
    link.fingerprint = None
    link.decision = "link"
    link.status = PENDING
    link.reason = None
    link.candidates = []
    session.commit()
    return link


def choose_add_new(session: Session, organization_id: int, record_type: str, hub_id: int) -> SyncLink:
    """The user chose "Add New": the next sync creates a new Autotask record for it."""
    link = _decision_link(session, organization_id, record_type, hub_id)
    if link.autotask_id is not None and link.status == "synced":
        raise SyncError("This record is already synced to an Autotask record")
    link.autotask_id = None
    link.decision = "add_new"
    link.status = PENDING
    link.reason = None
    link.candidates = []
    session.commit()
    return link
