"""The "PSA System …" search over HTTP to the emulator: beginsWith for short text, contains after that,
only the fields the results list shows, and link targets checked before they are stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask import AutotaskClient, AutotaskCredentials
from psabridge.psa_integration import search as s


@pytest.fixture()
def client(emulator: Any) -> Iterator[AutotaskClient]:
    c = AutotaskClient(AutotaskCredentials(*emulator.credentials), zone_url=emulator.zone_url)
    yield c
    c.close()


def test_short_text_matches_the_beginning_longer_text_anywhere(client: AutotaskClient) -> None:
    assert {m.name for m in s.search(client, "account", "No")} == {"Northwind Traders"}
    assert "Northwind Traders" not in {m.name for m in s.search(client, "account", "wi")}
    found = s.search(client, "account", "wind")
    assert [(m.id, m.name) for m in found] == [(181, "Northwind Traders")]
    assert "+1 555 0101" in found[0].detail
    assert s.search(client, "account", "N") == []  # too short: no API call at all
    assert {m.name for m in s.search(client, "product", "Refund")} == {"Refund / Credit"}
    assert s.search(client, "subscription", "anything") == []  # not linkable by hand


def test_search_asks_only_for_the_fields_it_shows(client: AutotaskClient, emulator: Any) -> None:
    sent: list[Any] = []

    class Recording:
        def query(
            self, entity: str, filter: Any = None, include_fields: Any = None, max_records: Any = None
        ) -> Any:
            sent.append((entity, include_fields, max_records))
            return client.query(entity, filter, include_fields=include_fields, max_records=max_records)

        def get(self, entity: str, id: int, *, parent_id: int | None = None) -> Any:
            return client.get(entity, id)

    s.search(Recording(), "account", "Contoso")
    assert sent == [("Companies", ["id", "companyName", "phone", "city"], s.MAX_RESULTS)]


def test_link_target_must_exist(
    client: AutotaskClient, db: Session, session_factory: sessionmaker[Session]
) -> None:
    with pytest.raises(s.LinkRefused, match="does not exist"):
        s.check_target(db, client, organization_id=1, record_type="account", hub_id=1, autotask_id=999_999)
    match = s.check_target(db, client, organization_id=1, record_type="account", hub_id=1, autotask_id=180)
    assert match.name == "Contoso Ltd"
