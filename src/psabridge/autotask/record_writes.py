"""Writing records: create, update (PATCH), replace (PUT) and delete, by root or parent route.

Why a module of its own: a write is the one call that cannot simply be sent again, so its route and
body are settled here before anything is sent — child entities go through their parent's route (the
parent id from the argument or the body), ``None`` is left out of a create, an update names its record —
and an answer without an ``itemId`` is reported as :class:`OutcomeUnknownError`, not as a failure.
"""

from __future__ import annotations

from typing import Any

from psabridge.autotask.errors import OutcomeUnknownError, UnsupportedOperationError
from psabridge.autotask.query import to_wire
from psabridge.autotask.sending import RequestSending


class RecordWrites(RequestSending):
    """The record writes of :class:`psabridge.autotask.client.AutotaskClient` (mixed into it)."""

    def _write_path(
        self, entity: str, verb: str, body: dict[str, Any] | None, parent_id: int | None
    ) -> tuple[str, int | None, dict[str, Any] | None]:
        """The route for a write: the root route, or the parent route (parent id from arg or body)."""
        spec = self.registry.require(entity, verb)
        route = spec.parent_route(verb)
        if spec.has_root(verb) and (parent_id is None or route is None):
            return entity, None, body
        if route is None:  # pragma: no cover - require() guarantees one of the two
            raise UnsupportedOperationError(f"no route for {verb} {entity}", entity=entity, verb=verb)
        pid = parent_id
        if pid is None and body is not None and route.parent_field:
            raw = body.get(route.parent_field)
            pid = int(raw) if raw is not None else None
        if pid is None:
            raise ValueError(
                f"{verb} {entity} goes through {route.route}: pass parent_id= or set {route.parent_field!r} in the body"
            )
        if body is not None and verb == "create" and route.parent_field and route.parent_field not in body:
            body = {**body, route.parent_field: int(pid)}
        return route.path(pid), int(pid), body

    def create(self, entity: str, body: dict[str, Any], *, parent_id: int | None = None) -> int:
        """Create a record; returns its id (``itemId``). Child entities go through their parent route.

        ``None`` values are left out: on a create they clear nothing, and Autotask answers an explicit
        null in a create body with a 500 (KelvinTegelaar/AutotaskAPI#26)."""
        present = {k: v for k, v in body.items() if v is not None}
        path, pid, sent = self._write_path(entity, "create", to_wire(present), parent_id)
        data = self._request("POST", path, entity=entity, verb="create", body=sent, parent_id=pid)
        return self._item_id(data, entity, "create", sent, pid)

    def update(self, entity: str, body: dict[str, Any], *, parent_id: int | None = None) -> int:
        """Change only the fields in ``body`` (PATCH); ``body["id"]`` names the record. Returns the id."""
        self._require_id(entity, "update", body)
        path, pid, sent = self._write_path(entity, "update", to_wire(dict(body)), parent_id)
        data = self._request("PATCH", path, entity=entity, verb="update", body=sent, parent_id=pid)
        return self._item_id(data, entity, "update", sent, pid)

    def replace(self, entity: str, body: dict[str, Any], *, parent_id: int | None = None) -> int:
        """Replace the record (PUT): omitted fields are cleared. Returns the id."""
        self._require_id(entity, "replace", body)
        path, pid, sent = self._write_path(entity, "replace", to_wire(dict(body)), parent_id)
        data = self._request("PUT", path, entity=entity, verb="replace", body=sent, parent_id=pid)
        return self._item_id(data, entity, "replace", sent, pid)

    def delete(self, entity: str, id: int, *, parent_id: int | None = None) -> None:
        """Delete a record (only entities Autotask allows it for; child entities need ``parent_id``)."""
        path, pid, _ = self._write_path(entity, "delete", None, parent_id)
        self._request("DELETE", f"{path}/{int(id)}", entity=entity, verb="delete", parent_id=pid)

    @staticmethod
    def _require_id(entity: str, verb: str, body: dict[str, Any]) -> None:
        if body.get("id") in (None, ""):
            raise ValueError(f"{verb} {entity}: the body must contain the record's 'id'")

    @staticmethod
    def _item_id(data: Any, entity: str, verb: str, body: dict[str, Any] | None, pid: int | None) -> int:
        try:
            return int(data["itemId"])
        except (KeyError, TypeError, ValueError):
            raise OutcomeUnknownError(
                "Autotask answered the write without an itemId",
                entity=entity,
                verb=verb,
                body=body,
                parent_id=pid,
            ) from None
