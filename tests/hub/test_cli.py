"""The hub's CLI: organizations, tokens (shown once, usable at once), bad-file output."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from psabridge.cli import app
from psabridge.config import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_org_and_token_commands(settings: Settings, client: TestClient) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["org", "create", "Contoso IT"])
    assert created.exit_code == 0 and "slug: contoso-it" in created.output
    dup = runner.invoke(app, ["org", "create", "Contoso IT"])
    assert dup.exit_code == 1
    token = runner.invoke(app, ["token", "create", "--org", "contoso-it", "--role", "viewer"])
    assert token.exit_code == 0
    plain = token.stdout.strip().splitlines()[0]
    response = client.get("/api/v1/organizations/me", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200 and response.json()["slug"] == "contoso-it"
    bad_role = runner.invoke(app, ["token", "create", "--org", "contoso-it", "--role", "owner"])
    assert bad_role.exit_code == 1

    listed = runner.invoke(app, ["token", "list", "--org", "contoso-it"])
    assert listed.exit_code == 0 and plain[:12] in listed.output and plain not in listed.output
    assert runner.invoke(app, ["token", "revoke", "1", "--org", "contoso-it"]).exit_code == 0
    response = client.get("/api/v1/organizations/me", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 401


def test_import_of_bad_file_prints_each_row_and_fails(settings: Settings) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["org", "create", "Acme"]).exit_code == 0
    result = runner.invoke(app, ["import", str(EXAMPLES / "invalid" / "subscriptions.csv"), "--org", "acme"])
    assert result.exit_code == 1
    assert "nothing was imported" in result.output
    assert "line 3: product_external_id" in result.output
