"""Property-based fuzzing of the REST API from its own OpenAPI description (issue 10, "Done when"):
every operation, with an admin API token, must answer without a server error (5xx) and with bodies that
match the documented schemas. Bounded here (``PSABRIDGE_FUZZ_EXAMPLES``, default 8 per operation, fixed
seed); ``make fuzz`` runs the same test with more examples. Runs on SQLite and PostgreSQL like the suite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.hub.orgs import create_api_token, create_organization

EXAMPLES = int(os.environ.get("PSABRIDGE_FUZZ_EXAMPLES", "8"))


@pytest.fixture()
def fuzz_app(settings: Settings, emulator: Any) -> Iterator[Any]:
    """The real application; zone discovery goes to the emulator (never to the internet)."""
    from psabridge.web.app import create_app

    app = create_app(
        settings.model_copy(update={"autotask_zone_url": emulator.zone_url}), run_migrations=False
    )
    yield app
    app.state.engine.dispose()


@pytest.fixture()
def admin_headers(session_factory: sessionmaker[Session]) -> dict[str, str]:
    with session_factory() as db:
        org = create_organization(db, "Fuzz MSP", "fuzz")
        _, token = create_api_token(db, org, role="admin")
        db.commit()
    return {"Authorization": f"Bearer {token}"}


def _openapi() -> dict[str, Any]:
    """The OpenAPI document, from an app that touches no database (the description needs none)."""
    import tempfile

    from psabridge.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=tmp), run_migrations=False)
        document: dict[str, Any] = app.openapi()
        app.state.engine.dispose()
    return document


schema = schemathesis.openapi.from_dict(_openapi())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_never_fails_on_generated_input(case: Any, fuzz_app: Any, admin_headers: dict[str, str]) -> None:
    case.call_and_validate(
        app=fuzz_app, headers=admin_headers, checks=[not_a_server_error, response_schema_conformance]
    )
