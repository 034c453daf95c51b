"""A signed-in user who follows a wrong link gets a page that says what happened, inside the Admin Hub
(tabs and user menu), not a bare "Not found / Not Found" on an anonymous page."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import OrgUser
from tests.support.web import signed_in_client


def test_unknown_address_explains_itself_and_keeps_the_admin_hub_layout(
    live_app: str, make_org_user: Callable[..., OrgUser]
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    client, _ = signed_in_client(live_app, admin.email, admin.password)
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.text
    assert 'data-testid="error-title">Not found<' in html
    assert 'data-testid="error-message">Not Found<' not in html
    assert "There is no page at this address" in html
    assert 'data-testid="user-menu"' in html and admin.email in html
    assert 'href="/psa-integration"' in html  # the tabs are there

    # A route's own explanation is kept as it is.
    run = client.get("/psa-integration/runs/999999")
    assert run.status_code == 404 and "No such run" in run.text

    # Signed out, the same address still answers 404 (nothing about the hub leaks).
    anonymous = client.__class__(base_url=live_app).get("/no-such-page")
    assert anonymous.status_code == 404 and 'data-testid="user-menu"' not in anonymous.text
