"""Slows down password guessing on the login form.

After ``max_failures`` failed sign-ins for one e-mail address (or ``max_failures_per_ip`` from one client
address) within ``window``, further attempts are refused until the window has passed, even with the right
password, so guessing cannot continue at network speed. Kept in process memory: right for the embedded
single-process deployment; with several web workers each enforces its own count (still a hard cap).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    """Sliding-window failure counter per key (``email:...`` and ``ip:...``)."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        max_failures_per_ip: int = 30,
        window_seconds: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_failures_per_ip = max_failures_per_ip
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def retry_after(self, email: str, client_ip: str) -> int:
        """Seconds until this e-mail/client may try again; 0 when allowed now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key, limit in (
                (f"email:{email}", self.max_failures),
                (f"ip:{client_ip}", self.max_failures_per_ip),
            ):
                stamps = self._recent(key, now)
                if len(stamps) >= limit:
                    wait = max(wait, stamps[len(stamps) - limit] + self.window - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, email: str, client_ip: str) -> None:
        now = self._clock()
        with self._lock:
            for key in (f"email:{email}", f"ip:{client_ip}"):
                self._failures.setdefault(key, deque()).append(now)
                if len(self._failures[key]) > 1000:
                    self._failures[key].popleft()

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(f"email:{email}", None)
