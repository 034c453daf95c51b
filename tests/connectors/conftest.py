"""Fixtures of the connector tests: settings pointing Autotask zone discovery at the emulator, organizations
with API tokens, and the real application served on a loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask import clear_caches
from psabridge.config import Settings


@pytest.fixture()
def at_settings(settings: Settings, emulator: Any) -> Iterator[Settings]:
    """The test settings with zone discovery pointed at the emulator (as the demo and tests do)."""
    clear_caches()
    yield settings.model_copy(
        update={
            "autotask_zone_url": emulator.zone_url,
            "autotask_integration_code": emulator.credentials.integration_code,
        }
    )
    clear_caches()


@dataclass(frozen=True)
class Org:
    id: int
    slug: str
    admin_token: str
    viewer_token: str


@pytest.fixture()
def make_org(session_factory: sessionmaker[Session]) -> Callable[[str], Org]:
    """``make_org("acme")``: an organization with an admin and a viewer API token."""
    from psabridge.hub.orgs import create_api_token, create_organization

    def make(slug: str = "acme") -> Org:
        with session_factory() as db:
            org = create_organization(db, f"{slug.title()} MSP", slug)
            _, admin = create_api_token(db, org, role="admin", name="admin")
            _, viewer = create_api_token(db, org, role="viewer", name="viewer")
            db.commit()
            return Org(org.id, slug, admin, viewer)

    return make


@pytest.fixture()
def connector_app(at_settings: Settings) -> Iterator[str]:
    """The real application (pages + API) on the test database; yields its base URL."""
    from psabridge.web.app import create_app
    from tests.support.servers import serve_in_thread

    app = create_app(at_settings, run_migrations=False)
    with serve_in_thread(app) as base_url:
        yield base_url
    app.state.engine.dispose()
