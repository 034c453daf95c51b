"""Importing CSV and JSON files: the user's files go in whole or not at all, bad rows are named by line
and field, and importing the same file again changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from psabridge.cli import app
from psabridge.config import Settings
from psabridge.hub.errors import ImportFailed
from psabridge.hub.imports.formats import parse
from psabridge.hub.imports.runner import run_import
from psabridge.hub.models import Account, LicenseChangeLog, Organization, Subscription
from psabridge.hub.reports import mismatches
from tests.hub.conftest import Tenant

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ORDER = [
    "products.csv",
    "accounts.csv",
    "contacts.csv",
    "billing_contracts.csv",
    "subscriptions.csv",
    "license_change_logs.csv",
]


def _import(db: Session, org: Organization, name: str, content: bytes | None = None, **kw: str) -> list[dict]:
    data = content if content is not None else (EXAMPLES / name).read_bytes()
    results = run_import(db, org.id, parse(name, data, **kw))  # type: ignore[arg-type]
    db.commit()
    return [r.as_dict() for r in results]


def _snapshot(db: Session, org: Organization) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the organization's records including updated_at (so a silent rewrite shows)."""
    out = {}
    for model in (Account, Subscription, LicenseChangeLog):
        rows = db.execute(select(model.__table__).where(model.organization_id == org.id).order_by(model.id))
        out[model.__tablename__] = [tuple(r) for r in rows]
    return out


def test_cli_imports_example_csv_files_and_reimport_changes_nothing(
    settings: Settings, db: Session, org: Organization
) -> None:
    files = [str(EXAMPLES / name) for name in ORDER]
    first = CliRunner().invoke(app, ["import", *files, "--org", "contoso"])
    assert first.exit_code == 0, first.output
    subs = {s.external_id: s for s in db.scalars(select(Subscription))}
    assert {k: s.quantity for k, s in subs.items()} == {"SUB-1": 23, "SUB-2": 23, "SUB-3": 40}
    assert str(subs["SUB-2"].unit_price) in {"3.5", "3.50", "3.5000"}  # empty cell -> product price
    account = db.scalar(select(Account).where(Account.external_id == "CUST-1001"))
    assert account is not None and account.primary_contact is not None
    assert account.primary_contact.external_id == "CON-1"
    assert mismatches(db, org.id) == []
    before = _snapshot(db, org)
    db.expire_all()

    again = CliRunner().invoke(app, ["import", *files, "--org", "contoso"])
    assert again.exit_code == 0, again.output
    db.expire_all()
    assert _snapshot(db, org) == before


def test_files_imported_one_by_one_keep_logs_and_quantities_consistent(
    db: Session, org: Organization
) -> None:
    """The subscription file alone records placeholder initial logs; the history file replaces them."""
    for name in ORDER[:-1]:
        _import(db, org, name)
    assert mismatches(db, org.id) == []
    [logs] = _import(db, org, "license_change_logs.csv")
    assert logs["created"] == 5
    quantities = {s.external_id: s.quantity for s in db.scalars(select(Subscription))}
    assert quantities == {"SUB-1": 23, "SUB-2": 23, "SUB-3": 40}
    assert mismatches(db, org.id) == []
    assert _import(db, org, "license_change_logs.csv") == [
        {"record_type": "license_change_log", "created": 0, "updated": 0, "unchanged": 5, "logs_created": 0}
    ]


def test_json_bundle_with_every_type(db: Session, org: Organization) -> None:
    results = _import(db, org, "bundle.json")
    assert [(r["record_type"], r["created"]) for r in results] == [
        ("account", 1),
        ("contact", 1),
        ("product", 1),
        ("billing_contract", 1),
        ("subscription", 1),
        ("license_change_log", 2),
    ]
    sub = db.scalar(select(Subscription).where(Subscription.external_id == "SUB-2001"))
    assert sub is not None and sub.quantity == 12 and str(sub.unit_price).startswith("4.0")
    assert mismatches(db, org.id) == []
    assert all(r["created"] == 0 and r["updated"] == 0 for r in _import(db, org, "bundle.json"))


def test_bad_file_reports_every_bad_row_and_writes_nothing(db: Session, org: Organization) -> None:
    for name in ORDER[:-2]:
        _import(db, org, name)
    with pytest.raises(ImportFailed) as err:
        _import(db, org, "subscriptions.csv", (EXAMPLES / "invalid" / "subscriptions.csv").read_bytes())
    db.rollback()
    problems = {(e.line, e.field) for e in err.value.errors}
    assert problems == {
        (3, "product_external_id"),  # unknown product
        (4, "quantity"),  # negative
        (5, "end_date"),  # before start
        (5, "status"),  # not a status
    }
    messages = " ".join(e.message for e in err.value.errors)
    assert "NO-SUCH-PRODUCT" in messages
    assert db.scalar(select(func.count()).select_from(Subscription)) == 0  # line 2 was fine, yet not written


def test_import_refuses_to_edit_logs_and_names_the_line(db: Session, org: Organization) -> None:
    for name in ORDER:
        _import(db, org, name)
    edited = (EXAMPLES / "license_change_logs.csv").read_text().replace("25,23,22.00", "25,21,22.00")
    with pytest.raises(ImportFailed) as err:
        _import(db, org, "license_change_logs.csv", edited.encode())
    assert [(e.line, e.field) for e in err.value.errors] == [(4, "quantity_after")]
    assert "never edited" in err.value.errors[0].message


def test_incremental_log_file_moves_quantity_and_archiving_takes_it_back(
    db: Session, org: Organization
) -> None:
    for name in ORDER:
        _import(db, org, name)
    header = "external_id,subscription_external_id,effective_date,quantity_before,quantity_after,status\n"
    _import(db, org, "logs.csv", (header + "LCL-9,SUB-3,2025-10-01,40,45,active\n").encode())
    assert db.scalar(select(Subscription.quantity).where(Subscription.external_id == "SUB-3")) == 45
    _import(db, org, "logs.csv", (header + "LCL-9,SUB-3,2025-10-01,40,45,archived\n").encode())
    assert db.scalar(select(Subscription.quantity).where(Subscription.external_id == "SUB-3")) == 40
    assert mismatches(db, org.id) == []


def test_changed_quantity_in_subscription_file_is_recorded_as_a_log(db: Session, org: Organization) -> None:
    for name in ORDER[:-1]:
        _import(db, org, name)
    changed = (
        (EXAMPLES / "subscriptions.csv")
        .read_text()
        .replace("SUB-3,CON-K-1002,M365-BS,40", "SUB-3,CON-K-1002,M365-BS,44")
    )
    [result] = _import(db, org, "subscriptions.csv", changed.encode())
    assert (result["updated"], result["unchanged"], result["logs_created"]) == (1, 2, 1)
    assert mismatches(db, org.id) == []


def test_csv_errors_for_unknown_type_and_columns(db: Session, org: Organization) -> None:
    with pytest.raises(ImportFailed) as err:
        _import(db, org, "data.csv", b"external_id,name\nA,B\n")
    assert err.value.errors[0].field == "type"
    with pytest.raises(ImportFailed) as err:
        _import(db, org, "accounts.csv", b"external_id,name,colour\nA,B,red\n")
    assert [(e.line, e.field, e.message) for e in err.value.errors] == [(2, "colour", "unknown column")]
    with pytest.raises(ImportFailed) as err:
        _import(
            db, org, "accounts.json", b'[\n  {"external_id": "A", "name": "ok"},\n  {"external_id": "B"}\n]'
        )
    assert [(e.line, e.field) for e in err.value.errors] == [(3, "name")]


def test_api_import_multipart_and_raw_body(client: TestClient, tenant: Tenant, tmp_path: Path) -> None:
    headers = tenant.admin
    for name in ORDER:
        with (EXAMPLES / name).open("rb") as fh:
            response = client.post("/api/v1/imports", headers=headers, files={"file": (name, fh, "text/csv")})
        assert response.status_code == 200, response.text
    total = client.get("/api/v1/subscriptions", headers=tenant.viewer).json()["total"]
    assert total == 3

    bad = client.post(
        "/api/v1/imports",
        headers={**headers, "Content-Type": "text/csv"},
        params={"type": "subscription"},
        content=(EXAMPLES / "invalid" / "subscriptions.csv").read_bytes(),
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert {(e["line"], e["field"]) for e in bad.json()["errors"]} >= {(3, "product_external_id")}
    assert client.get("/api/v1/subscriptions", headers=tenant.viewer).json()["total"] == 3

    body = json.loads((EXAMPLES / "bundle.json").read_text())
    ok = client.post("/api/v1/imports", headers=headers, json=body)
    assert ok.status_code == 200 and ok.json()[-1]["created"] == 2
    viewer = client.post("/api/v1/imports", headers=tenant.viewer, json=body)
    assert viewer.status_code == 403
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_import_cannot_reference_another_organizations_records(db: Session, org: Organization) -> None:
    for name in ORDER:
        _import(db, org, name)
    other = Organization(name="Fabrikam", slug="fabrikam")
    db.add(other)
    db.commit()
    with pytest.raises(ImportFailed) as err:
        _import(db, other, "subscriptions.csv")
    assert {e.field for e in err.value.errors} == {"billing_contract_external_id", "product_external_id"}
    # The same external ids are free in the other organization: its own records do not collide.
    for name in ORDER:
        _import(db, other, name)
    assert db.scalar(select(func.count()).select_from(Subscription)) == 6


def test_json_bundle_errors_name_the_line_of_each_record(db: Session, org: Organization) -> None:
    bundle = (EXAMPLES / "bundle.json").read_text()
    broken = bundle.replace('"quantity": 12', '"quantity": "twelve"').replace(
        '"quantity_before": 10, "quantity_after": 12', '"quantity_before": 10, "quantity_after": -1'
    )
    lines = broken.splitlines()
    sub_line = next(i for i, line in enumerate(lines, 1) if '"twelve"' in line)
    log_line = next(i for i, line in enumerate(lines, 1) if '"quantity_after": -1' in line)
    with pytest.raises(ImportFailed) as err:
        _import(db, org, "bundle.json", broken.encode())
    assert [(e.line, e.field) for e in err.value.errors] == [
        (sub_line, "quantity"),
        (log_line, "quantity_after"),
    ]
    assert db.scalar(select(func.count()).select_from(Account)) == 0
