"""A faithful Autotask REST tenant for tests, benchmarks and the demo (``psabridge emulator``).

Nothing in the product imports this package except the ``emulator``/``demo`` CLI commands and tests.
What it enforces, with the public evidence for each rule, is listed in docs/autotask-fidelity.md; the
rules without evidence are switches of :class:`RuleSwitches` (all strict by default).
"""

from psabridge.emulator.app import create_emulator_app
from psabridge.emulator.limits import LimitSettings
from psabridge.emulator.rules import RuleSwitches
from psabridge.emulator.tenant import EmulatorTenant

__all__ = ["EmulatorTenant", "LimitSettings", "RuleSwitches", "create_emulator_app"]
