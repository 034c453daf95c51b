"""The route/verb table of the official description, to answer 404 and 405 exactly as Autotask would."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from psabridge.emulator.schema import load_spec


@dataclass(frozen=True)
class RouteMatch:
    """A request path resolved against the description: template, verbs, entity and path ids."""

    template: str
    verbs: frozenset[str]
    entity: str | None
    segments: tuple[str, ...]  # template segments ("{id}" kept)
    params: dict[str, int]


class RouteTable:
    """Templates indexed by (segment count, first segment) for a fast, case-insensitive match."""

    def __init__(self, routes: list[list[object]]) -> None:
        self._index: dict[tuple[int, str], list[tuple[tuple[str, ...], frozenset[str], str | None, str]]] = {}
        for template, verbs, entity in routes:
            segs = tuple(str(template).strip("/").split("/"))
            key = (len(segs), segs[0].lower())
            verbs_set = frozenset(str(v).upper() for v in verbs) if isinstance(verbs, list) else frozenset()
            owner = str(entity) if entity else None
            self._index.setdefault(key, []).append((segs, verbs_set, owner, str(template)))

    def match(self, parts: list[str]) -> RouteMatch | None:
        """The best template for path segments ``parts`` (after ``/V1.0``), or None (404)."""
        if not parts:
            return None
        best: RouteMatch | None = None
        best_score = -1
        for segs, verbs, entity, template in self._index.get((len(parts), parts[0].lower()), []):
            score = 0
            params: dict[str, int] = {}
            for seg, part in zip(segs, parts, strict=True):
                if seg.startswith("{"):
                    if not part.lstrip("-").isdigit():
                        break
                    params[seg[1:-1]] = int(part)
                elif seg.lower() == part.lower():
                    score += 1
                else:
                    break
            else:
                if score > best_score:
                    best_score = score
                    best = RouteMatch(template, verbs, entity, segs, params)
        return best

    def entity_verbs(self, entity: str) -> set[str]:
        """Verbs the description offers for ``entity`` on any route ("QUERY" for a query route)."""
        verbs: set[str] = set()
        for bucket in self._index.values():
            for segs, route_verbs, owner, _ in bucket:
                if owner != entity or "entityInformation" in segs:
                    continue
                if segs[-1] == "query":
                    verbs.add("QUERY")
                verbs |= {v for v in route_verbs if v != "GET"}
        return verbs


@lru_cache(maxsize=1)
def route_table() -> RouteTable:
    """The table generated from the description (``spec.json``)."""
    return RouteTable(load_spec()["routes"])
