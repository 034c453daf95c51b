"""Run history a new user can read (issue 10): previews that were pushed no longer say "planned"
forever, and a push's page can show only what that push wrote."""

from __future__ import annotations

import re
from contextlib import closing
from typing import Any

from tests.psa_integration.conftest import wait_for_run
from tests.support.web import signed_in_client


def _digest(html: str) -> str:
    found = re.search(r'name="digest" value="([0-9a-f]{64})"', html)
    assert found
    return found.group(1)


def _status_of(runs_page: str, run_id: int) -> str:
    row = re.search(rf'data-run-id="{run_id}".*?data-testid="run-status">(\w+)<', runs_page, re.S)
    assert row, runs_page
    return row.group(1)


def test_pushed_previews_are_marked_and_the_run_page_shows_what_it_wrote(
    psa_app: str, make_org_user: Any, set_up_org: Any
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    set_up_org(admin.organization_id)
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    with closing(client):
        client.post("/psa-integration/preview", data={"csrf_token": csrf})
        preview = client.post("/psa-integration/preview", data={"csrf_token": csrf}).text
        pushed = client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": _digest(preview)})
        run_url = pushed.headers["location"]
        push_id = int(run_url.rsplit("/", 1)[1])
        wait_for_run(client, run_url)
        runs = client.get("/psa-integration/runs").text
        assert _status_of(runs, push_id - 1) == "pushed"
        assert _status_of(runs, push_id - 2) == "superseded"
        assert f"pushed by run {push_id}" in runs

        page = client.get(run_url).text
        written = re.search(r'data-testid="written-filter"[^>]*>Written by this run \((\d+)\)', page)
        assert written and int(written.group(1)) > 0
        only = client.get(f"{run_url}?status=written").text
        assert only.count('data-testid="run-result"') == min(int(written.group(1)), 50)
