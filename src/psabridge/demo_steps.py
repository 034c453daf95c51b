"""The demo's set-up steps: the emulated tenant, the demo organization and admin, the connector.

Each step is idempotent, so ``psabridge demo`` run again on the same data directory reuses the same
emulator port and tenant, organization, admin and connector. The connector is set up exactly as a user
would: credentials tested live, every setting chosen *by label* from the tenant's own option lists.
Kept apart from the command (:mod:`psabridge.demo`), which runs these steps, the sync and the hub; the
tests set up their tenants with the same steps.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge.config import Settings
from psabridge.connectors.declarations import PERIOD_LABELS as ALL_PERIOD_LABELS
from psabridge.connectors.declarations import SETTINGS

DEMO_ORG_NAME = "Demo MSP"
DEMO_ORG_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo-msp.example"
EMULATOR_STATE_FILE = "emulator-state.json"
#: The emulator's port, kept so connectors (of every organization in the data directory) keep a live URL.
EMULATOR_PORT_FILE = "emulator-port"

#: Labels the demo picks from the tenant's live option lists (never ids: they differ per tenant), from
#: the one declaration of each setting (psabridge.connectors.declarations).
LABELS: dict[str, tuple[str, ...]] = {s.name: s.demo for s in SETTINGS if s.demo}
#: Hub billing frequency -> period-type labels. Triennial is left unmapped on purpose: the tenant has
#: no such period type, and a triennial contract should show up as "Blocked" with the reason.
PERIOD_LABELS: dict[str, tuple[str, ...]] = {
    f: labels for f, labels in ALL_PERIOD_LABELS.items() if f != "triennial"
}


class DemoError(Exception):
    """The demo cannot go on (e.g. the tenant lacks an option the demo picks by label)."""


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str | None  # only when it was created (or reset) by this run


# --- the emulator --------------------------------------------------------------------------------------


def emulator_port(data_dir: Path, host: str = "127.0.0.1") -> int:
    """The port the demo's emulator used last time (kept in ``data_dir``) when it is free, else a free
    one, which is kept for next time: connectors store the emulator's URL, so a new port on every start
    left them pointing at nothing."""
    import socket

    stored = data_dir / EMULATOR_PORT_FILE
    try:
        port = int(stored.read_text().strip())
    except (OSError, ValueError):
        port = 0
    if port:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is free
            try:
                sock.bind((host, port))
            except OSError:
                port = 0
    if not port:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
    stored.write_text(f"{port}\n")
    return port


@contextmanager
def emulator_for(data_dir: Path) -> Iterator[Any]:
    """The Autotask emulator on loopback (same port as last time when free), its tenant persisted in
    ``data_dir``."""
    from psabridge.emulator.testing import running_emulator

    with running_emulator(state_file=data_dir / EMULATOR_STATE_FILE, port=emulator_port(data_dir)) as handle:
        yield handle


# --- organization, admin, sample data --------------------------------------------------------------------


def ensure_organization(session: Session) -> Any:
    from psabridge.hub.models import Organization
    from psabridge.hub.orgs import create_organization

    org = session.scalar(select(Organization).where(Organization.slug == DEMO_ORG_SLUG))
    if org is None:
        org = create_organization(session, DEMO_ORG_NAME, DEMO_ORG_SLUG)
        session.commit()
    return org


def ensure_admin(session: Session, organization_id: int, *, reset_password: bool) -> DemoLogin:
    """The demo admin; a fresh random password is made (and returned, to print once) only when the user
    is created or ``reset_password`` is asked. It is stored hashed, like any other password."""
    from psabridge.auth.models import User
    from psabridge.auth.password_policy import password_problem
    from psabridge.auth.users import create_user, set_password

    user = session.scalar(
        select(User).where(User.organization_id == organization_id, User.email == DEMO_ADMIN_EMAIL)
    )
    password = secrets.token_urlsafe(12)
    while password_problem(password, DEMO_ADMIN_EMAIL):  # the policy refuses e.g. "admin" inside it
        password = secrets.token_urlsafe(12)
    if user is None:
        create_user(session, organization_id, email=DEMO_ADMIN_EMAIL, password=password, role="admin")
        session.commit()
        return DemoLogin(DEMO_ADMIN_EMAIL, password)
    if reset_password:
        set_password(session, user, password)
        session.commit()
        return DemoLogin(DEMO_ADMIN_EMAIL, password)
    return DemoLogin(DEMO_ADMIN_EMAIL, None)


# --- the connector -------------------------------------------------------------------------------------


def _pick(options: list[Any], setting: str, labels: tuple[str, ...]) -> int:
    from psabridge.connectors import options as opts

    found = opts.find_by_label(options, *labels)
    if found is None:
        available = ", ".join(sorted({o.label for o in options if o.is_active})) or "none"
        raise DemoError(
            f"The Autotask tenant has no active option {' / '.join(labels)!r} for {setting} "
            f"(available: {available})"
        )
    return int(found.value)


def settings_by_label(lists: dict[str, list[Any]], manufacturers: list[str]) -> Any:
    """Connector settings chosen by label from the tenant's option lists (``load_option_lists``).

    Manufacturers need the vendor companies of the *saved* vendor type, so they are filled in only when
    ``lists`` holds ``"vendors"`` (the second save).
    """
    from psabridge.connectors.service import SETTING_OPTION_KEYS
    from psabridge.connectors.settings import AutotaskConnectorSettings, BillingFrequency

    values: dict[str, Any] = {}
    for setting, labels in LABELS.items():
        key = SETTING_OPTION_KEYS.get(setting)
        if setting == "setup_fee_billing_code_id":
            options = lists.get("product_billing_codes", []) + lists.get("service_billing_codes", [])
        else:
            assert key is not None
            options = lists.get(key, [])
        values[setting] = _pick(options, setting, labels)
    periods = lists.get("period_types", [])
    values["billing_frequencies"] = {
        BillingFrequency(freq): _pick(periods, f"billing frequency {freq}", labels)
        for freq, labels in PERIOD_LABELS.items()
    }
    contract_periods = lists.get("contract_period_types", [])
    values["contract_period_types"] = {
        BillingFrequency(freq): _pick(contract_periods, f"contract period of {freq}", labels)
        for freq, labels in PERIOD_LABELS.items()
    }
    vendors = lists.get("vendors")
    if vendors is not None:
        from psabridge.connectors import options as opts

        values["manufacturers"] = {
            name: int(found.value)
            for name in manufacturers
            if (found := opts.find_by_label(vendors, name)) is not None
        }
    values["setup_fee_enabled"] = True
    values["time_reporting_requires_start_and_stop_times"] = False
    values["allow_duplicated_services"] = False
    return AutotaskConnectorSettings(**values)


def ensure_connector(session: Session, organization_id: int, emu: Any, app_settings: Settings) -> Any:
    """Create (or re-point at this run's emulator port) the Autotask connector and, if it is not set up
    yet, choose its settings by label in two saves (Manufacturers need a saved Default Vendor Type)."""
    from psabridge.connectors import service as connectors
    from psabridge.hub.models import Product

    username, secret, code = emu.credentials
    connector = connectors.get_autotask_connector(session, organization_id)
    if connector is None or connector.api_url.rstrip("/") != emu.api_url.rstrip("/"):
        connector = connectors.create_or_update_connector(
            session,
            organization_id,
            username=username,
            secret=secret,
            integration_code=code,
            app_settings=app_settings,
        )
    if connectors.connector_settings(connector).is_set_up:
        return connector
    makers = sorted(
        {
            m
            for m in session.scalars(
                select(Product.manufacturer).where(Product.organization_id == organization_id)
            )
            if m
        }
    )
    lists = connectors.load_option_lists(session, connector, app_settings)
    first = settings_by_label(lists, makers)
    connectors.save_settings(session, connector, first, app_settings=app_settings)
    lists = connectors.load_option_lists(session, connector, app_settings)
    connectors.save_settings(session, connector, settings_by_label(lists, makers), app_settings=app_settings)
    return connector
