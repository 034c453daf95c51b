"""What a billing administrator reads on the PSA Integration screen: Autotask records by name (not a bare
"#id"), run counts in words (not the engine's internal keys), a run's records a page at a time, and bulk
actions only where a row can take one."""

from __future__ import annotations

import re
from typing import Any

from tests.psa_integration.conftest import SAME_NAME_COMPANY, companies_named, wait_for_run
from tests.support.web import signed_in_client


def _digest(html: str) -> str:
    found = re.search(r'name="digest" value="([0-9a-f]{64})"', html)
    assert found, "the preview has no Push form"
    return found.group(1)


def _row(html: str, label: str) -> str:
    """The <tr> of the tab row whose label is ``label``."""
    for match in re.finditer(r'<tr data-testid="psa-row".*?</tr>', html, re.S):
        if f'<strong class="psa-label">{label}</strong>' in match.group(0):
            return match.group(0)
    raise AssertionError(f"no row {label!r}")


def _calls(emulator: Any) -> int:
    calls = emulator.control.calls().get("calls", {})
    return sum(n for verbs in calls.values() for n in verbs.values())


def test_linked_rows_show_the_autotask_record_name_without_calling_autotask(
    psa_app: str, make_org_user: Any, set_up_org: Any, emulator: Any
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    org = set_up_org(admin.organization_id, customers=4)  # a run of more than one page of records
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    contoso_at_id = companies_named(emulator, SAME_NAME_COMPANY)[0]["id"]

    # Linked (not pushed yet): only the id is known. After the push, the name PSA Bridge wrote is shown.
    linked = client.post(
        "/psa-integration/link",
        data={
            "csrf_token": csrf,
            "record_type": "account",
            "hub_id": org.contoso_account_id,
            "autotask_id": contoso_at_id,
            "tab": "customers",
        },
    )
    assert linked.status_code == 303
    assert f"Company #{contoso_at_id}" in _row(
        client.get("/psa-integration/customers").text, SAME_NAME_COMPANY
    )

    pushed = client.post(
        "/psa-integration/push",
        data={
            "csrf_token": csrf,
            "digest": _digest(client.post("/psa-integration/preview", data={"csrf_token": csrf}).text),
        },
    )
    run_page = wait_for_run(client, pushed.headers["location"])
    assert 'data-testid="run-status">succeeded<' in run_page

    # Every created company, contact, contract and contract service is named after what was written.
    companies = {c["id"]: c["companyName"] for c in emulator.control.records("Companies")}
    before = _calls(emulator)
    customers = client.get("/psa-integration/customers").text
    services = client.get("/psa-integration/services").text
    agreements = client.get("/psa-integration/agreements").text
    assert _calls(emulator) == before, "showing names must not cost Autotask API calls"

    linked_ids = re.findall(r"Company #(\d+)", customers)
    assert linked_ids
    for at_id in linked_ids:
        name = companies[int(at_id)]
        assert f'data-testid="psa-linked-name">{name}</span>' in customers.replace("&amp;", "&")
    assert customers.count('data-testid="psa-linked-name"') == customers.count('data-testid="psa-linked"')
    contoso = _row(customers, SAME_NAME_COMPANY)
    assert f'data-testid="psa-linked-name">{SAME_NAME_COMPANY}</span>' in contoso
    assert f"Company #{contoso_at_id}" in contoso
    assert services.count('data-testid="psa-linked-name"') == services.count('data-testid="psa-linked"') > 0
    services_by_id = {s["id"]: s["name"] for s in emulator.control.records("Services")}
    contract_services = {c["id"]: c for c in emulator.control.records("ContractServices")}
    first = re.search(
        r'data-testid="psa-linked-name">([^<]+)</span> <span class="muted small psa-linked-id">Contract service #(\d+)',
        services,
    )
    assert first, "a contract service row without its service's name"
    assert services_by_id[contract_services[int(first.group(2))]["serviceID"]] == first.group(1).replace(
        "&amp;", "&"
    )
    assert "Contract #" in agreements and agreements.count('data-testid="psa-linked-name"') > 0

    # The run page names them too, says its counts in words, and pages its records.
    assert 'class="psa-linked-name">' in run_page
    counts = re.search(r'data-testid="run-counts">.*?</table>', run_page, re.S)
    assert counts
    assert "ops_" not in counts.group(0) and "ops create" not in counts.group(0)
    assert "written this run:" in counts.group(0) and "created" in counts.group(0)
    total = int(re.search(r"All \((\d+)\)", run_page).group(1))  # type: ignore[union-attr]
    assert total > 50
    assert run_page.count('data-testid="run-result"') == 50
    assert f"Page 1 of {-(-total // 50)} ({total} records)" in run_page
    last = client.get(pushed.headers["location"] + f"?page={-(-total // 50)}").text
    assert last.count('data-testid="run-result"') == total - 50 * (-(-total // 50) - 1)


def test_bulk_actions_appear_only_where_a_row_can_take_them(
    psa_app: str, make_org_user: Any, set_up_org: Any
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    set_up_org(admin.organization_id)
    client, _ = signed_in_client(psa_app, admin.email, admin.password)
    customers = client.get("/psa-integration/customers").text
    assert 'data-testid="bulk-action"' in customers and 'class="psa-select"' in customers
    for tab in ("services", "changes"):  # never linked by hand: no checkbox, no bulk form
        page = client.get(f"/psa-integration/{tab}").text
        assert 'data-testid="psa-row"' in page
        assert 'data-testid="bulk-action"' not in page and "select all on this page" not in page


def test_a_succeeded_push_says_what_it_left_unsynced(
    psa_app: str, make_org_user: Any, set_up_org: Any
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    set_up_org(admin.organization_id)  # "Contoso Ltd" needs a link: the push leaves it (and its contact) out
    client, csrf = signed_in_client(psa_app, admin.email, admin.password)
    preview = client.post("/psa-integration/preview", data={"csrf_token": csrf}).text
    pushed = client.post("/psa-integration/push", data={"csrf_token": csrf, "digest": _digest(preview)})
    run_page = wait_for_run(client, pushed.headers["location"])
    assert 'data-testid="run-status">succeeded<' in run_page
    left = re.search(r'data-testid="run-left-out">([^<]+)<', run_page)
    assert left and re.match(r"\d+ record\(s\) not synced: \d+ needs link, \d+ waiting", left.group(1)), left

    runs = client.get("/psa-integration/runs").text
    notes = re.findall(r'data-testid="run-note">([^<]*)<', runs)
    assert any(re.search(r"not synced: \d+ needs link", n) for n in notes), notes

    # The preview run's counts read as plans, not internal verbs.
    preview_run = re.search(r'href="/psa-integration/runs/(\d+)">Run \d+</a></td>\s*<td>Preview', runs)
    assert preview_run
    counts = re.search(
        r'data-testid="run-counts">.*?</table>',
        client.get(f"/psa-integration/runs/{preview_run.group(1)}").text,
        re.S,
    )
    assert counts and "planned: " in counts.group(0) and "to create" in counts.group(0)
    assert re.search(r"\d+ create\b", counts.group(0)) is None


def test_search_prompt_names_the_autotask_kind_in_good_english(
    psa_app: str, make_org_user: Any, set_up_org: Any
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    set_up_org(admin.organization_id)
    client, _ = signed_in_client(psa_app, admin.email, admin.password)
    customers = client.get("/psa-integration/customers").text
    assert 'placeholder="Search Autotask companies…"' in customers
    assert "companys" not in customers
    assert 'placeholder="Search Autotask contracts…"' in client.get("/psa-integration/agreements").text
