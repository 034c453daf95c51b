"""Builders shared by the scale-out tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.jobs.models import Job
from tests.sync.support import Hub


def small_customer_base(hub: Hub, tag: str, customers: int = 4) -> None:
    """``customers`` customers of unique names (no same-name company in the tenant to link by hand), each
    with a monthly contract of two subscriptions."""
    m365 = hub.product(f"{tag} Microsoft 365 E3")
    backup = hub.product(f"{tag} Backup", manufacturer="Datto")
    for n in range(customers):
        account = hub.account(f"{tag}cust{n} Holdings")
        contract = hub.contract(account)
        hub.subscription(contract, m365, quantity=5 + n)
        hub.subscription(contract, backup, quantity=2 + n)


def jobs_of(factory: sessionmaker[Session], organization_id: int | None = None) -> list[Job]:
    with factory() as session:
        query = select(Job).order_by(Job.id)
        if organization_id is not None:
            query = query.where(Job.organization_id == organization_id)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def ours(state: dict[str, Any], entity: str, field: str, org_id: int) -> list[str]:
    prefix = f"PSB{org_id}-"
    return sorted(
        str(r[field]) for r in state["entities"][entity] if str(r.get(field) or "").startswith(prefix)
    )
