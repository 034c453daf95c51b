"""The PSA Integration screen's fixtures (their ``app_settings`` differs from the sync engine's)."""

from __future__ import annotations

from tests.psa_integration.conftest import app_settings, psa_app, set_up_org

__all__ = ["app_settings", "psa_app", "set_up_org"]
