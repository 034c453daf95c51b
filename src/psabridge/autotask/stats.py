"""Call counters per entity and verb.

Why: the API budget (10,000 calls per hour shared by every integration of a tenant) is the scarcest
resource of a sync; benchmarks and tests assert exact call counts from these counters. Every HTTP
request the client actually sends is counted, including retries, page fetches and metadata reads.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from psabridge.metrics import count_call


class CallStats:
    """Thread-safe counters ``{entity: {verb: calls}}``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._retries = 0

    def record(self, entity: str, verb: str) -> None:
        with self._lock:
            self._counts[entity][verb] += 1
        count_call(entity, verb)

    def record_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def get(self, entity: str, verb: str | None = None) -> int:
        """Calls for an entity (and verb, when given)."""
        with self._lock:
            verbs = self._counts.get(entity, {})
            return verbs.get(verb, 0) if verb is not None else sum(verbs.values())

    @property
    def total(self) -> int:
        with self._lock:
            return sum(sum(v.values()) for v in self._counts.values())

    @property
    def retries(self) -> int:
        with self._lock:
            return self._retries

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A plain copy of the counters."""
        with self._lock:
            return {entity: dict(verbs) for entity, verbs in self._counts.items()}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._retries = 0

    def __repr__(self) -> str:
        return f"CallStats(total={self.total}, calls={self.snapshot()!r})"


__all__ = ["CallStats"]
