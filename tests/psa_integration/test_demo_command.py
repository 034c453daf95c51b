"""``psabridge demo --once``: emulator + hub + sample data + connector + sync + summary, in a subprocess
on a temporary data directory and the test database (SQLite or PostgreSQL). Re-running it reuses
everything and writes nothing to Autotask."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.auth.models import User
from psabridge.connectors.models import Connector
from psabridge.hub import models as hub
from psabridge.hub.models import Organization

PSABRIDGE = Path(sys.executable).with_name("psabridge")


def _demo(data_dir: Path, db_url: str, *extra: str) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PSABRIDGE_") and k not in ("COLUMNS", "LINES")
    }
    env.update(PSABRIDGE_DATABASE_URL=db_url, COLUMNS="200", NO_COLOR="1", TERM="dumb")
    done = subprocess.run(
        [str(PSABRIDGE), "demo", "--once", "--customers", "2", "--data-dir", str(data_dir), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=data_dir,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _writes(out: str) -> int:
    found = re.search(r"Autotask writes this run: (\d+)", out)
    assert found, out
    return int(found.group(1))


def _row(out: str, entity: str) -> dict[str, int]:
    """One line of the summary table: records per status."""
    found = re.search(rf"│ {entity}\s+│([\d │]+)│\n", out)
    assert found, out
    numbers = [int(n) for n in re.findall(r"\d+", found.group(1))]
    statuses = ("synced", "pending", "needs_link", "blocked", "waiting", "error", "drift")
    return dict(zip(statuses, numbers, strict=True))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_once_syncs_then_rerun_writes_nothing(
    tmp_path: Path, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    data_dir = tmp_path / "demo-data"
    data_dir.mkdir()
    first = _demo(data_dir, db_url)

    assert "Autotask connector: set up" in first
    # The emulator's API user is printed, to set up connectors of other organizations by hand.
    assert re.search(r"Emulator API user: \S+@\S+\s+secret: \S+\s+integration code: \S+", first), first
    emulator_url = re.search(r"Autotask emulator: (http://\S+)", first)
    assert emulator_url
    login = re.search(r"Login: (\S+)\s+password: (\S+)", first)
    assert login and login.group(1) == "admin@demo-msp.example" and len(login.group(2)) >= 12
    assert _writes(first) > 0
    with session_factory() as s:
        org = s.scalar(select(Organization).where(Organization.slug == "demo"))
        assert org is not None
        accounts = s.scalar(select(func.count(hub.Account.id)).where(hub.Account.organization_id == org.id))
        contracts = s.scalar(
            select(func.count(hub.BillingContract.id)).where(hub.BillingContract.organization_id == org.id)
        )
        subscriptions = s.scalar(
            select(func.count(hub.Subscription.id)).where(hub.Subscription.organization_id == org.id)
        )
        assert accounts == 2
        # the password is stored hashed, never as printed
        user = s.scalar(select(User).where(User.email == "admin@demo-msp.example"))
        assert user is not None and login.group(2) not in user.password_hash
    customers = _row(first, "Customers")
    assert sum(customers.values()) == 2 * accounts  # each company and its primary contact
    assert sum(_row(first, "Agreements").values()) == contracts
    assert sum(_row(first, "Services").values()) == subscriptions
    assert customers["synced"] > 0 and customers["pending"] == 0 and customers["error"] == 0
    # The seeded tenant holds a company named like a sample customer: suggested, never linked alone.
    needs_link = re.findall(r"\[needs_link\] Customers: (.+?) — .*same name", first)
    assert len(needs_link) == customers["needs_link"]
    for name in needs_link:
        assert re.search(rf"\[waiting\] \w+: .* — Waiting for {re.escape(name)}", first)
    state = data_dir / "emulator-state.json"
    assert state.exists()
    companies_with_key = state.read_text().count('"companyNumber":"PSB')
    assert companies_with_key == accounts - len(needs_link)
    before = _digest(state)

    # Same data dir again: same org, admin and connector; nothing planned, nothing written.
    second = _demo(data_dir, db_url)
    assert f"Autotask emulator: {emulator_url.group(1)}" in second  # same port: stored URLs stay live
    assert _writes(second) == 0
    assert "Nothing to write" in second
    assert "password:" not in second  # printed once only
    assert _digest(state) == before  # the emulated Autotask tenant did not change at all
    with session_factory() as s:
        assert s.scalar(select(func.count(Organization.id))) == 1
        assert s.scalar(select(func.count(User.id))) == 1
        assert s.scalar(select(func.count(Connector.id))) == 1

    # A record the sync must refuse shows up in the summary with its reason, and nothing is written.
    with session_factory() as s:
        org = s.scalar(select(Organization).where(Organization.slug == "demo"))
        assert org is not None
        s.add(hub.Account(organization_id=org.id, external_id="NOPHONE", name="No Phone Bakery", phone=None))
        s.commit()
    third = _demo(data_dir, db_url)
    assert _writes(third) == 0
    assert re.search(r"\[blocked\] Customers: No Phone Bakery — Account has no valid phone number", third), (
        third
    )
    assert _digest(state) == before
