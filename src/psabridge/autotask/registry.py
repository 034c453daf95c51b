"""The entity registry: which verbs and routes each Autotask entity offers.

Why: Autotask answers an unsupported call with a 405 (or worse, a misleading 500) *and* counts it
against the hourly budget. The registry, generated from the official REST description by
``scripts/gen_autotask_registry.py``, lets the client refuse such calls before sending anything and
pick the parent route for child entities (Contacts are written through ``Companies/{parentId}/Contacts``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from psabridge.autotask.errors import UnsupportedOperationError

#: Verbs on an entity's root route: GET {E}/{id}, POST {E}/query, POST {E}/query/count, POST/PATCH/PUT {E},
#: DELETE {E}/{id}, GET {E}/entityInformation/fields and .../userDefinedFields.
ROOT_VERBS = ("get", "query", "count", "create", "update", "replace", "delete", "fields", "udfs")
#: Verbs on a parent route ``{Parent}/{parentId}/{Child}``: GET (list), GET .../{id}, POST, PATCH, PUT, DELETE .../{id}.
CHILD_VERBS = ("list", "get", "create", "update", "replace", "delete")


@dataclass(frozen=True, slots=True)
class ParentRoute:
    """A child route such as ``Contracts/{parentId}/Services`` and the verbs it offers."""

    parent: str
    route: str
    verbs: frozenset[str]
    parent_field: str | None

    def path(self, parent_id: int) -> str:
        """The route with the parent id filled in."""
        return self.route.replace("{parentId}", str(int(parent_id)))


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """What the official description says about one entity."""

    name: str
    model: str | None
    verbs: frozenset[str]
    parents: tuple[ParentRoute, ...]
    fields: frozenset[str]

    def has_root(self, verb: str) -> bool:
        """True when the entity's own route offers ``verb``."""
        return verb in self.verbs

    def parent_route(self, verb: str, parent: str | None = None) -> ParentRoute | None:
        """The first parent route offering ``verb`` (optionally of a given parent entity)."""
        for route in self.parents:
            if verb in route.verbs and (parent is None or route.parent == parent):
                return route
        return None

    def supports(self, verb: str) -> bool:
        """True when the verb is reachable through the root or a parent route."""
        return self.has_root(verb) or self.parent_route(verb) is not None


class EntityRegistry:
    """Lookup of :class:`EntitySpec` by entity name (exact Autotask spelling, e.g. ``ContractServices``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.api_version: str | None = data.get("api_version")
        self._entities: dict[str, EntitySpec] = {}
        for name, raw in data["entities"].items():
            self._entities[name] = EntitySpec(
                name=name,
                model=raw.get("model"),
                verbs=frozenset(raw.get("verbs", [])),
                parents=tuple(
                    ParentRoute(
                        parent=p["parent"],
                        route=p["route"],
                        verbs=frozenset(p.get("verbs", [])),
                        parent_field=p.get("parent_field"),
                    )
                    for p in raw.get("parents", [])
                ),
                fields=frozenset(raw.get("fields", [])),
            )

    def __contains__(self, entity: object) -> bool:
        return entity in self._entities

    def __iter__(self) -> Any:
        return iter(self._entities.values())

    def __len__(self) -> int:
        return len(self._entities)

    def entity(self, name: str) -> EntitySpec:
        """The spec of ``name``; an unknown entity is an :class:`UnsupportedOperationError`."""
        try:
            return self._entities[name]
        except KeyError:
            raise UnsupportedOperationError(
                f"unknown Autotask entity {name!r} (not in the official REST description)", entity=name
            ) from None

    def require(self, name: str, verb: str) -> EntitySpec:
        """The spec of ``name`` if it supports ``verb`` anywhere, else raise before any request is sent."""
        spec = self.entity(name)
        if not spec.supports(verb):
            offered = sorted(spec.verbs | {v for p in spec.parents for v in p.verbs})
            raise UnsupportedOperationError(
                f"Autotask does not allow {verb!r} on {name} (offered: {', '.join(offered) or 'nothing'})",
                entity=name,
                verb=verb,
            )
        return spec


@lru_cache(maxsize=4)
def load_registry(path: str | None = None) -> EntityRegistry:
    """The committed registry (``registry.json`` next to this module), or one read from ``path``."""
    if path is not None:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files("psabridge.autotask").joinpath("registry.json").read_text(encoding="utf-8")
    return EntityRegistry(json.loads(text))


__all__ = ["CHILD_VERBS", "ROOT_VERBS", "EntityRegistry", "EntitySpec", "ParentRoute", "load_registry"]
