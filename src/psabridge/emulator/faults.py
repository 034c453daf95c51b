"""Injected faults: rules matched by method and entity/path regex, applied ``count`` times after
``skip`` matches. ``drop_after_commit`` performs the write and then drops the connection, the case a
client must report as "outcome unknown" and never blindly retry. ``thread_limit`` answers like the real
thread-limit rejection; its optional ``status`` forces the status (else 429, or 500 every Nth time as the
``thread_limit_500_every`` rule switch says).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

ACTIONS = {"500", "429", "thread_limit", "drop_after_commit", "latency"}


@dataclass
class FaultRule:
    """One fault rule of the control API."""

    action: str
    method: str | None = None
    entity: str | None = None  # regex matched against the entity name
    path: str | None = None  # regex searched in the request path
    count: int | None = 1  # None: for ever
    skip: int = 0
    ms: int = 0
    status: int | None = None  # thread_limit only: the status to answer with
    seen: int = 0
    fired: int = 0
    _entity_re: re.Pattern[str] | None = field(default=None, repr=False)
    _path_re: re.Pattern[str] | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        action = str(data.get("action", ""))
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {sorted(ACTIONS)}")
        rule = cls(
            action=action,
            method=(str(data["method"]).upper() if data.get("method") else None),
            entity=data.get("entity"),
            path=data.get("path"),
            count=None if data.get("count", 1) is None else int(data.get("count", 1)),
            skip=int(data.get("skip", 0)),
            ms=int(data.get("ms", 0)),
            status=None if data.get("status") is None else int(data["status"]),
        )
        if rule.status is not None and not 400 <= rule.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        rule._entity_re = re.compile(rule.entity, re.IGNORECASE) if rule.entity else None
        rule._path_re = re.compile(rule.path, re.IGNORECASE) if rule.path else None
        return rule

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "method": self.method,
            "entity": self.entity,
            "path": self.path,
            "count": self.count,
            "skip": self.skip,
            "ms": self.ms,
            "status": self.status,
            "seen": self.seen,
            "fired": self.fired,
        }

    def matches(self, method: str, entity: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        if self._entity_re and not self._entity_re.fullmatch(entity):
            return False
        return not (self._path_re and not self._path_re.search(path))


class FaultBook:
    """The active fault rules; :meth:`pick` consumes the first rule that fires for a request."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self.rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def pick(self, method: str, entity: str, path: str) -> list[FaultRule]:
        """Rules firing for this request (a latency rule can combine with one failure rule)."""
        fired: list[FaultRule] = []
        with self._lock:
            for rule in self.rules:
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if not rule.matches(method, entity, path):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                if any(f.action != "latency" for f in fired) and rule.action != "latency":
                    continue
                rule.fired += 1
                fired.append(rule)
        return fired
