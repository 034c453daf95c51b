"""Autotask's API limits: a rolling hourly request budget shared by the whole database, latency added
past 50% and 75% of it, a block over it, and at most N concurrent requests per integration code and
endpoint. Every number is configurable so tests can reach the thresholds in milliseconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class LimitSettings:
    """The limits of one emulated tenant (defaults are Autotask's)."""

    hourly_limit: int = 10_000
    window_seconds: float = 3600.0
    delay_over_50: float = 0.5
    delay_over_75: float = 1.0
    max_concurrent: int = 3


class RequestMeter:
    """Rolling-window request counter plus the per (integration code, endpoint) in-flight table."""

    def __init__(self, settings: LimitSettings | None = None) -> None:
        self.settings = settings or LimitSettings()
        self._times: deque[float] = deque()
        self._in_flight: dict[tuple[str, str], int] = {}
        #: the most requests that were (or tried to be) in flight at once per key, and how many were refused
        self._peak: dict[tuple[str, str], int] = {}
        self.refused = 0
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        horizon = now - self.settings.window_seconds
        while self._times and self._times[0] <= horizon:
            self._times.popleft()

    def count(self) -> int:
        """Requests in the current window."""
        with self._lock:
            self._trim(time.monotonic())
            return len(self._times)

    def admit(self) -> tuple[bool, float]:
        """Count one request; return (allowed, threshold delay in seconds)."""
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            used = len(self._times)
            limit = self.settings.hourly_limit
            if used >= limit:
                return False, 0.0
            self._times.append(now)
            used += 1
        if used > 0.75 * limit:
            return True, self.settings.delay_over_75
        if used > 0.5 * limit:
            return True, self.settings.delay_over_50
        return True, 0.0

    def enter(self, code: str, endpoint: str) -> bool:
        """Start an in-flight request; False when the concurrency limit is already reached."""
        key = (code.lower(), endpoint.lower())
        with self._lock:
            current = self._in_flight.get(key, 0)
            self._peak[key] = max(self._peak.get(key, 0), current + 1)
            if current >= self.settings.max_concurrent:
                self.refused += 1
                return False
            self._in_flight[key] = current + 1
            return True

    def leave(self, code: str, endpoint: str) -> None:
        key = (code.lower(), endpoint.lower())
        with self._lock:
            left = self._in_flight.get(key, 1) - 1
            if left <= 0:
                self._in_flight.pop(key, None)
            else:
                self._in_flight[key] = left

    def peaks(self) -> dict[str, int]:
        """``"code|endpoint" -> most concurrent requests seen`` (a refused one counts: the peak is what
        the clients attempted), for tests of limits held across processes."""
        with self._lock:
            return {f"{code}|{endpoint}": n for (code, endpoint), n in self._peak.items()}

    def reset(self) -> None:
        with self._lock:
            self._times.clear()
            self._peak.clear()
            self.refused = 0
