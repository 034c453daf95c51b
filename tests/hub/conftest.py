"""Fixtures of the billing hub tests: organizations, API tokens and an API client on the test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.hub.models import Organization
from psabridge.hub.orgs import create_api_token, create_organization


@dataclass(frozen=True)
class Tenant:
    id: int
    slug: str
    admin: dict[str, str]
    viewer: dict[str, str]


@pytest.fixture()
def make_tenant(session_factory: sessionmaker[Session]) -> Callable[[str], Tenant]:
    """``make_tenant("acme")``: an organization with an admin and a viewer token (as request headers)."""

    def make(slug: str) -> Tenant:
        with session_factory() as db:
            org = create_organization(db, f"{slug.title()} MSP", slug)
            _, admin = create_api_token(db, org, role="admin")
            _, viewer = create_api_token(db, org, role="viewer")
            db.commit()
            return Tenant(
                org.id,
                slug,
                {"Authorization": f"Bearer {admin}"},
                {"Authorization": f"Bearer {viewer}"},
            )

    return make


@pytest.fixture()
def tenant(make_tenant: Callable[[str], Tenant]) -> Tenant:
    return make_tenant("acme")


@pytest.fixture()
def org(db: Session) -> Organization:
    organization = create_organization(db, "Contoso IT", "contoso")
    db.commit()
    return organization


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    """The real application (REST API) on the test database."""
    from psabridge.web.app import create_app

    app = create_app(settings, run_migrations=False)
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()
