"""Errors of the sync engine's public API."""

from __future__ import annotations


class SyncError(Exception):
    """The sync cannot start (no connector, connector not set up, unknown record)."""
