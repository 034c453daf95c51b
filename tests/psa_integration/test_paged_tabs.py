"""The PSA Integration tabs and run pages a page at a time (issue 12): every row exactly once across
pages, counts from the database that match the rows, filters and ``row=`` still right, a constant number
of SQL statements per page whatever the organization's size, and hostile paging parameters refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.connectors.models import Connector
from psabridge.hub import models as hub
from psabridge.hub.sample_data import generate
from psabridge.psa_integration import count_cache
from psabridge.psa_integration.rows import TABS
from psabridge.psa_integration.tab_pages import tab_view
from psabridge.sync import run_results
from psabridge.sync.keys import RECORD_TYPES
from psabridge.sync.models import RecordResult, SyncLink, SyncRun
from tests.support.web import signed_in_client

STATUSES = ("synced", "needs_link", "blocked", "waiting", "error")


def _org(session_factory: sessionmaker[Session], org_id: int, customers: int) -> int:
    """Sample data of ``customers`` customers, and a link for most records (statuses in turn; every
    seventh record has none: "not planned yet"). Returns the connector id."""
    with session_factory() as s:
        org = s.get(hub.Organization, org_id)
        assert org is not None
        generate(s, org, customers=customers, seed=5)
        connector = Connector(
            organization_id=org_id, name="Autotask", username="u", secret_encrypted="-", integration_code="X"
        )
        s.add(connector)
        s.flush()
        keys: list[tuple[str, int]] = []
        for tab in TABS:
            keys += [(r.record_type, r.hub_id) for r in tab_view(s, org_id, tab.key, size=200).rows]
        subs = s.scalars(select(hub.Subscription.id).where(hub.Subscription.organization_id == org_id))
        keys += [("subscription_start", sid) for sid in subs]
        rows = []
        for n, (record_type, hub_id) in enumerate(keys):
            if n % 7 == 6:
                continue
            rows.append(
                {
                    "organization_id": org_id,
                    "connector_id": connector.id,
                    "record_type": record_type,
                    "hub_id": hub_id,
                    "autotask_entity": RECORD_TYPES[record_type].entity,
                    "status": STATUSES[n % len(STATUSES)],
                    "decision": "auto",
                    "candidates": [],
                }
            )
        s.execute(insert(SyncLink), rows)
        s.commit()
        return connector.id


def _all_rows(s: Session, org_id: int, tab: str, status: str | None = None) -> list[tuple[str, int]]:
    view = tab_view(s, org_id, tab, status=status, size=200)
    assert view.total <= 200, "the test wants one page of 200 to compare with"
    return [(r.record_type, r.hub_id) for r in view.rows]


@pytest.mark.parametrize("tab", [t.key for t in TABS])
def test_every_row_once_across_pages_with_counts_from_the_database(
    session_factory: sessionmaker[Session], make_org_user: Any, tab: str
) -> None:
    user = make_org_user(slug="acme")
    _org(session_factory, user.organization_id, customers=4)
    count_cache.clear()
    with session_factory() as s:
        everything = _all_rows(s, user.organization_id, tab)
        assert everything and len(set(everything)) == len(everything)
        size = 7
        first = tab_view(s, user.organization_id, tab, size=size)
        assert first.total == len(everything) == sum(first.counts.values())
        paged: list[tuple[str, int]] = []
        for page in range(1, first.pages + 1):
            view = tab_view(s, user.organization_id, tab, page=page, size=size)
            expected = size if page < first.pages else len(everything) - size * (first.pages - 1)
            assert len(view.rows) == expected, (page, len(view.rows))
            paged += [(r.record_type, r.hub_id) for r in view.rows]
        assert paged == everything  # same order, no row twice or missing at the page boundaries
        past = tab_view(s, user.organization_id, tab, page=10**6, size=size)
        assert (
            past.page == first.pages
            and [(r.record_type, r.hub_id) for r in past.rows] == paged[-len(past.rows) :]
        )
        for status, n in first.counts.items():
            only = _all_rows(s, user.organization_id, tab, status)
            assert len(only) == n and only == [k for k in everything if k in set(only)]
            assert {
                r.status for r in tab_view(s, user.organization_id, tab, status=status, size=200).rows
            } == {status}
        # the row a link points at opens on its page
        target = everything[len(everything) // 2]
        at = tab_view(s, user.organization_id, tab, size=size, row=target)
        assert target in [(r.record_type, r.hub_id) for r in at.rows]


def test_rows_carry_their_link_and_unplanned_records_are_pending(
    session_factory: sessionmaker[Session], make_org_user: Any
) -> None:
    user = make_org_user(slug="acme")
    _org(session_factory, user.organization_id, customers=3)
    with session_factory() as s:
        links = {
            (link.record_type, link.hub_id): link.status
            for link in s.scalars(select(SyncLink).where(SyncLink.organization_id == user.organization_id))
        }
        for tab in TABS:
            for row in tab_view(s, user.organization_id, tab.key, size=200).rows:
                assert row.status == links.get((row.record_type, row.hub_id), "pending")
                assert row.label and not row.label.startswith(row.record_type)
        customers = tab_view(s, user.organization_id, "customers", size=200).rows
        names = [r.label for r in customers if r.record_type == "account"]
        assert names == sorted(names)
        assert all(r.record_type == "contact" for r in customers[1::2])  # each account, then its contact


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _run(session_factory: sessionmaker[Session], org_id: int, connector_id: int) -> int:
    with session_factory() as s:
        run = SyncRun(organization_id=org_id, connector_id=connector_id, mode="apply", status="succeeded")
        s.add(run)
        s.flush()
        links = s.scalars(select(SyncLink).where(SyncLink.organization_id == org_id)).all()
        s.execute(
            insert(RecordResult),
            [
                {
                    "run_id": run.id,
                    "record_type": link.record_type,
                    "hub_id": link.hub_id,
                    "label": f"{link.record_type} {link.hub_id}",
                    "status": link.status,
                    "written": n % 2 == 0,
                    "autotask_id": 1000 + n,
                }
                for n, link in enumerate(links)
            ],
        )
        s.commit()
        return run.id


def test_statements_per_page_do_not_grow_with_the_organization(
    session_factory: sessionmaker[Session], engine: Engine, make_org_user: Any
) -> None:
    small, large = make_org_user(slug="small"), make_org_user(slug="large")
    small_connector = _org(session_factory, small.organization_id, customers=10)
    large_connector = _org(session_factory, large.organization_id, customers=100)
    runs = {
        small.organization_id: _run(session_factory, small.organization_id, small_connector),
        large.organization_id: _run(session_factory, large.organization_id, large_connector),
    }
    with session_factory() as s:
        subs = {
            org: s.scalar(select(hub.Subscription.id).where(hub.Subscription.organization_id == org).limit(1))
            for org in runs
        }
        sizes = {
            org: len(
                s.scalars(select(hub.Subscription.id).where(hub.Subscription.organization_id == org)).all()
            )
            for org in runs
        }
    assert sizes[large.organization_id] >= 8 * sizes[small.organization_id]

    def statements(org: int, what: str) -> int:
        count_cache.clear()
        with session_factory() as s, _statements(engine) as seen:
            if what == "run":
                run = s.get(SyncRun, runs[org])
                assert run is not None
                page = run_results.results_page(s, run, page=2, size=50)
                assert len(page.results) == 50
            elif what == "run-written":
                run = s.get(SyncRun, runs[org])
                assert run is not None
                run_results.results_page(s, run, status=run_results.WRITTEN, page=2, size=20)
            else:
                tab, _, status = what.partition("?")
                view = tab_view(
                    s, org, tab, status=status or None, page=2, size=20, row=("subscription", subs[org] or 0)
                )
                assert view.rows
            return len(seen)

    for what in [*(t.key for t in TABS), "services?needs_link", "changes?pending", "run", "run-written"]:
        assert statements(small.organization_id, what) == statements(large.organization_id, what), what


def test_hostile_paging_parameters_are_refused_not_failed(
    live_app: str, session_factory: sessionmaker[Session], make_org_user: Any
) -> None:
    admin = make_org_user(slug="acme", role="admin")
    connector = _org(session_factory, admin.organization_id, customers=2)
    run_id = _run(session_factory, admin.organization_id, connector)
    client, _ = signed_in_client(live_app, admin.email, admin.password)
    with closing(client):
        for url in (
            "/psa-integration/customers?page=-1",
            "/psa-integration/customers?page=99999999999999999999",
            "/psa-integration/customers?size=1000000000",
            "/psa-integration/customers?size=0",
            f"/psa-integration/runs/{run_id}?page=0",
            f"/psa-integration/runs/{run_id}?status=%00",
            f"/psa-integration/runs/{run_id}?page=1e9",
        ):
            response = client.get(url)
            assert response.status_code == 422, (url, response.status_code)
            assert "text/html" in response.headers["content-type"], url
        for url in (
            "/psa-integration/customers?page=1000000",  # past the last page: the last page
            "/psa-integration/customers?status=%00&row=%00&notice=%00",
            "/psa-integration/changes?row=subscription_start:99999999999999",
            f"/psa-integration/runs/{run_id}?page=1000000",
        ):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        for url in (
            f"/api/v1/sync/runs/{run_id}?limit=1000000000",
            f"/api/v1/sync/runs/{run_id}?offset=-1",
            f"/api/v1/sync/runs/{run_id}?status=%00",
            "/api/v1/subscriptions?limit=1000000000",
            "/api/v1/subscriptions?offset=-5",
        ):
            response = client.get(url)
            assert response.status_code in (400, 422), (url, response.status_code)
            assert response.headers["content-type"].startswith("application/problem+json"), url
        assert client.get("/api/v1/accounts?q=%00").status_code < 500  # no match, or refused on PostgreSQL
        page = client.get(f"/api/v1/sync/runs/{run_id}", params={"limit": 2, "offset": 1, "status": "synced"})
        data = page.json()
        assert len(data["records"]) == 2 and data["records_total"] == data["records_counts"]["synced"]
        assert {r["status"] for r in data["records"]} == {"synced"}


def test_changes_tab_counts_leave_out_linked_rows_that_left_the_tab(
    session_factory: sessionmaker[Session], make_org_user: Any
) -> None:
    """The Changes tab counts from the links less those of rows outside the tab: a linked change log
    archived, or turned into a refund that changes nothing, no longer counts; the figures are the same as
    counting row by row (and as listing the rows of each status)."""
    from sqlalchemy import update

    from psabridge.psa_integration.sections import sections

    user = make_org_user(slug="acme")
    org_id = user.organization_id
    _org(session_factory, org_id, customers=4)
    with session_factory() as s:
        linked = list(
            s.scalars(
                select(SyncLink.hub_id)
                .where(SyncLink.organization_id == org_id, SyncLink.record_type == "license_change_log")
                .order_by(SyncLink.hub_id)
            )
        )
        assert len(linked) >= 4
        s.execute(
            update(hub.LicenseChangeLog).where(hub.LicenseChangeLog.id == linked[0]).values(status="archived")
        )
        s.execute(
            update(hub.LicenseChangeLog)
            .where(hub.LicenseChangeLog.id == linked[1])
            .values(is_refund=True, quantity_after=hub.LicenseChangeLog.quantity_before, unit_price=None)
        )
        s.commit()
        count_cache.clear()
        arm = sections("changes", org_id)[0].arms[0]
        assert arm.table is not None  # the counts without a join per row
        exact = {str(status): int(n) for status, n in s.execute(arm.counts())}
        assert arm.counts_in(s) == exact
        view = tab_view(s, org_id, "changes", size=200)
        for status, n in view.counts.items():
            assert len(_all_rows(s, org_id, "changes", status)) == n
        shown = {(r.record_type, r.hub_id) for r in view.rows}
        assert ("license_change_log", linked[0]) not in shown and (
            "license_change_log",
            linked[1],
        ) not in shown
        assert view.total == sum(view.counts.values()) == len(shown)
