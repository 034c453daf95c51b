"""A faithful Autotask REST tenant for tests, benchmarks and the demo (``psabridge emulator``).

Nothing in the product imports this package except the ``emulator``/``demo`` CLI commands and tests.
"""

from psabridge.emulator.app import create_emulator_app
from psabridge.emulator.limits import LimitSettings
from psabridge.emulator.tenant import EmulatorTenant

__all__ = ["EmulatorTenant", "LimitSettings", "create_emulator_app"]
