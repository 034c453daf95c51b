"""Fixtures of the PSA Integration screen's tests: an organization whose Autotask connector points at the
emulator (set up the way ``psabridge demo`` does it: settings chosen by label), a little hub data, and the
real application served on a loopback port with zone discovery pointing at the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.hub import models as hub

#: The emulator's seeded tenant has a customer company of exactly this name (a link suggestion).
SAME_NAME_COMPANY = "Contoso Ltd"


@dataclass(frozen=True)
class PsaOrg:
    organization_id: int
    contoso_account_id: int


@pytest.fixture()
def app_settings(settings: Settings, emulator: Any) -> Iterator[Settings]:
    """Settings with zone discovery on the emulator (as the demo sets it)."""
    from psabridge.autotask.limits import TENANT_USAGE

    TENANT_USAGE.clear()  # the client's rolling-hour budget is per process: start each test fresh
    emulator.control.clear_calls()
    yield settings.model_copy(update={"autotask_zone_url": emulator.zone_url})


@pytest.fixture()
def psa_app(app_settings: Settings) -> Iterator[str]:
    """The real application on the test database (zone discovery on the emulator); yields its base URL."""
    from psabridge.web.app import create_app
    from tests.support.servers import serve_in_thread

    app = create_app(app_settings, run_migrations=False)
    with serve_in_thread(app) as base_url:
        yield base_url
    app.state.engine.dispose()


def add_account_with_contact(session: Session, organization_id: int, name: str, ext: str) -> hub.Account:
    account = hub.Account(
        organization_id=organization_id, external_id=ext, name=name, phone="+1 555 0100", status="active"
    )
    session.add(account)
    session.flush()
    contact = hub.Contact(
        organization_id=organization_id,
        external_id=f"{ext}-C1",
        account_id=account.id,
        first_name="Alex",
        last_name="Morgan",
        email="alex@contoso.example",
    )
    session.add(contact)
    session.flush()
    account.primary_contact_id = contact.id
    return account


@pytest.fixture()
def set_up_org(
    session_factory: sessionmaker[Session], app_settings: Settings, emulator: Any
) -> Callable[[int], PsaOrg]:
    """``set_up_org(org_id)``: sample data (2 customers), an account named like an existing Autotask
    company, and a set-up Autotask connector on the emulator."""
    from psabridge.demo import ensure_connector
    from psabridge.hub.sample_data import generate

    def make(organization_id: int, customers: int = 2) -> PsaOrg:
        with session_factory() as session:
            org = session.get(hub.Organization, organization_id)
            assert org is not None
            generate(session, org, customers=customers)
            contoso = add_account_with_contact(session, organization_id, SAME_NAME_COMPANY, "CONTOSO")
            session.commit()
            ensure_connector(session, organization_id, emulator, app_settings)
            return PsaOrg(organization_id, contoso.id)

    return make


def companies_named(emulator: Any, name: str) -> list[dict[str, Any]]:
    return [c for c in emulator.control.records("Companies") if c.get("companyName") == name]


def autotask_writes(emulator: Any) -> int:
    calls = emulator.control.calls().get("calls", {})
    return sum(
        n
        for verbs in calls.values()
        for verb, n in verbs.items()
        if verb in ("create", "update", "replace", "delete")
    )


def account_id(session_factory: sessionmaker[Session], organization_id: int, name: str) -> int:
    with session_factory() as s:
        found = s.scalar(
            select(hub.Account.id).where(
                hub.Account.organization_id == organization_id, hub.Account.name == name
            )
        )
        assert found is not None
        return int(found)


def wait_for_run(client: Any, url: str, timeout: float = 180.0) -> str:
    """The run page once the (background) push finished."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        page: str = client.get(url).text
        if 'data-testid="run-status">running<' not in page:
            return page
        assert time.monotonic() < deadline, "the push did not finish"
        time.sleep(0.5)
