"""Fixtures of the hostile-input tests: the sync engine's emulator environment and REST clients, and the
billing hub's tenants, reused as they are (one emulator per session)."""

from __future__ import annotations

from tests.connectors.conftest import at_settings, connector_app, make_org
from tests.hub.conftest import client, make_tenant, tenant
from tests.sync.conftest import _sync_emulator, api, app_settings, emu, env, hub

__all__ = [
    "_sync_emulator",
    "api",
    "app_settings",
    "at_settings",
    "client",
    "connector_app",
    "emu",
    "env",
    "hub",
    "make_org",
    "make_tenant",
    "tenant",
]
