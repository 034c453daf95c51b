"""Reading records: one by id, queries with every page followed, chunked ``in`` lookups, counts.

Why a module of its own: a query's cost is its pages, so paging lives here with its guards — pages are
fetched lazily, a ``nextPageUrl`` is followed only to the API host in use (the credentials travel with
every request) and never twice, and ``in`` lookups are cut into as few queries as Autotask's
500-condition limit allows. Filters are validated before the first request (:mod:`~psabridge.autotask.query`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import httpx

from psabridge.autotask.errors import AutotaskServerError, UnsupportedOperationError
from psabridge.autotask.query import (
    MAX_OR_CONDITIONS,
    Condition,
    FilterInput,
    chunk_in_values,
    normalize_filter,
    query_body,
)
from psabridge.autotask.sending import RequestSending


class RecordReads(RequestSending):
    """The record reads of :class:`psabridge.autotask.client.AutotaskClient` (mixed into it)."""

    def get(self, entity: str, id: int, *, parent_id: int | None = None) -> dict[str, Any] | None:
        """One record by id, or ``None`` when it does not exist or is not visible (``{"item": null}``)."""
        spec = self.registry.require(entity, "get")
        route = spec.parent_route("get")
        if route is not None and parent_id is not None:
            path = f"{route.path(parent_id)}/{int(id)}"
        elif spec.has_root("get"):
            path = f"{entity}/{int(id)}"
        else:
            raise UnsupportedOperationError(
                f"{entity} can only be read through {route.route if route else 'no route'} (pass parent_id)",
                entity=entity,
                verb="get",
            )
        data = self._request("GET", path, entity=entity, verb="get")
        item = data.get("item") if isinstance(data, dict) else None
        return item if isinstance(item, dict) else None

    def query(
        self,
        entity: str,
        filter: FilterInput = None,
        include_fields: Sequence[str] | None = None,
        max_records: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record matching ``filter`` (all pages, POSTing each ``nextPageUrl`` with the same body).

        The filter is validated now (bad operators, UDF and condition limits raise before any request);
        pages are fetched lazily as the iterator is consumed. ``max_records`` caps the total returned.
        """
        self._require_root(entity, "query")
        items = normalize_filter(filter)
        body = query_body(items, include_fields, max_records)
        return self._paginate(entity, f"{entity}/query", body, max_records)

    def _paginate(
        self, entity: str, path: str, body: dict[str, Any], max_records: int | None
    ) -> Iterator[dict[str, Any]]:
        returned = 0
        url = path
        seen: set[str] = set()
        while True:
            data = self._request("POST", url, entity=entity, verb="query", body=body)
            items = data.get("items") if isinstance(data, dict) else None
            for item in items or []:
                yield item
                returned += 1
                if max_records is not None and returned >= max_records:
                    return
            details = data.get("pageDetails") if isinstance(data, dict) else None
            next_url = details.get("nextPageUrl") if isinstance(details, dict) else None
            if not next_url or not items or next_url in seen:
                return
            self._require_same_host(str(next_url), entity)
            seen.add(next_url)
            url = str(next_url)

    def _require_same_host(self, url: str, entity: str) -> None:
        """The credentials travel with every request: follow a ``nextPageUrl`` only to the host (scheme
        and port included) of the API address in use, never to wherever an answer points."""
        wanted = httpx.URL(self.base_url)
        try:
            given = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            given = None
        if given is None or (given.scheme, given.host, given.port) != (
            wanted.scheme,
            wanted.host,
            wanted.port,
        ):
            raise AutotaskServerError(
                f"Autotask answered a {entity} query with a next page on another host; not followed",
                entity=entity,
                verb="query",
            )

    def query_in(
        self,
        entity: str,
        field: str,
        values: Iterable[Any],
        *,
        extra: FilterInput = None,
        include_fields: Sequence[str] | None = None,
        udf: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Records whose ``field`` is one of ``values``, in as few queries as the 500-condition limit allows.

        ``extra`` conditions are AND-ed to each chunk; their condition count is reserved in every chunk.
        """
        self._require_root(entity, "query")
        extra_items = normalize_filter(extra) if extra is not None else []
        reserved = sum(item.condition_count() for item in extra_items)
        chunks = list(chunk_in_values(values, MAX_OR_CONDITIONS - reserved))
        bodies = [
            query_body([Condition("in", field, tuple(chunk), udf), *extra_items], include_fields)
            for chunk in chunks
        ]
        normalize_filter([Condition("in", field, ("x",), udf), *extra_items])  # UDF rule with the extras

        def run() -> Iterator[dict[str, Any]]:
            for body in bodies:
                yield from self._paginate(entity, f"{entity}/query", body, None)

        return run()

    def count(self, entity: str, filter: FilterInput = None) -> int:
        """How many records match (``POST /{Entity}/query/count``)."""
        self._require_root(entity, "count")
        items = normalize_filter(filter)
        data = self._request(
            "POST", f"{entity}/query/count", entity=entity, verb="count", body=query_body(items)
        )
        try:
            return int(data["queryCount"])
        except (KeyError, TypeError, ValueError):
            raise AutotaskServerError(
                "count answer without queryCount", entity=entity, verb="count"
            ) from None
