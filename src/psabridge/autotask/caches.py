"""Process-wide caches shared by every client object, keyed per tenant: discovered zones and metadata.

Both cost API calls (zone discovery, one ``entityInformation/fields`` read per entity) and change rarely,
so every client of a process shares them; tests and credential changes clear them.
"""

from __future__ import annotations

import threading
from typing import Any

from psabridge.autotask.models import ZoneInfo

cache_lock = threading.Lock()
ZONE_CACHE: dict[tuple[str, str], ZoneInfo] = {}
METADATA_CACHE: dict[tuple[str, str, str, str], Any] = {}


def clear_caches() -> None:
    """Forget every discovered zone and cached metadata (tests, credential changes)."""
    with cache_lock:
        ZONE_CACHE.clear()
        METADATA_CACHE.clear()
