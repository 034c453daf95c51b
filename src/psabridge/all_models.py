"""Imports every model module so ``Base.metadata`` is complete (Alembic autogenerate, tests)."""

# Each area registers its tables by being imported here (imported for that side effect only).
# ruff: noqa: F401
import psabridge.auth.models  # users, web sessions
import psabridge.connectors.models  # connectors, option cache
import psabridge.hub.models  # billing hub
import psabridge.jobs.models  # jobs and schedules
import psabridge.reconcile.models  # reconciliation runs, differences, fixes, acceptances
import psabridge.sync.models  # links, journal, runs, record results
from psabridge.db import Base

metadata = Base.metadata
