"""Corrections: writes a person approved on the Reconcile tab (``psabridge.reconcile``), not planned by
the sync.

They go through the sync's own journaled applier so they are written exactly once, and the journal needs
a record type for what each write covers: a correction is recorded as ``correction:<fix id>``. Its link
says whether that fix was written (``synced``) or refused (``error``); nothing else reads it. The phase
is not one of the sync's tabs, so these links never show as rows or count on a tab.
"""

from __future__ import annotations

from psabridge.sync.records.base import RecordType

#: phase of corrections: not a PSA Integration tab (see ``PHASES``)
RECONCILE_PHASE = "reconcile"

#: a correction's Autotask entity varies (an adjustment, a PATCH of a company, ...); links record this one
CORRECTION = RecordType("correction", RECONCILE_PHASE, "ContractServiceAdjustments", None, "Z")
