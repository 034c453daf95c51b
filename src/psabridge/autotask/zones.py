"""Zone discovery: which Autotask zone (API address) serves a username.

``GET <global>/atservicesrest/v1.0/zoneInformation?user=…`` needs no authentication, so it is sent
through a client that carries no credentials (the secret never goes there). Autotask moves tenants
between zones; the client re-discovers after a 401 (see :mod:`psabridge.autotask.sending`).
"""

from __future__ import annotations

import httpx

from psabridge.autotask.errors import ZoneDiscoveryError
from psabridge.autotask.models import ZoneInfo


def fetch_zone(http: httpx.Client, zone_url: str, username: str) -> ZoneInfo:
    """The zone of ``username`` from ``zoneInformation``, or :class:`ZoneDiscoveryError`."""
    try:
        response = http.get(zone_url, params={"user": username}, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise ZoneDiscoveryError(
            f"zone discovery at {zone_url} failed ({type(exc).__name__})", entity="ZoneInformation"
        ) from None
    if response.status_code != 200:
        raise ZoneDiscoveryError(
            f"zone discovery for {username!r} failed",
            status_code=response.status_code,
            entity="ZoneInformation",
        )
    try:
        data = response.json()
        url = data["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(url)
    except (ValueError, KeyError, TypeError):
        raise ZoneDiscoveryError(
            f"zone discovery for {username!r} returned no API address (is the username right?)",
            entity="ZoneInformation",
        ) from None
    ci = data.get("ci")
    return ZoneInfo(
        zone_name=str(data.get("zoneName") or ""),
        url=url,
        web_url=str(data.get("webUrl") or ""),
        ci=int(ci) if isinstance(ci, int | str) and str(ci).lstrip("-").isdigit() else None,
    )
