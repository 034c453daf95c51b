"""What applying a plan produced: each operation's result, and whether the API budget paused it.

Shared by the applier that produces them, the schedule that settles them and the run recorder and
read-back that read them (kept apart so none of those imports the applier's machinery).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from psabridge.sync.planner import Operation


class BudgetPaused(Exception):
    """The tenant's hourly API budget (or our configured share of it) is used up."""

    def __init__(self, resume_at: datetime | None) -> None:
        super().__init__("API budget exhausted")
        self.resume_at = resume_at


@dataclass
class OpResult:
    op: Operation
    status: str  # synced | error | waiting | not_sent
    autotask_id: int | None = None
    reason: str | None = None


@dataclass
class ApplyOutcome:
    results: list[OpResult] = field(default_factory=list)
    paused: BudgetPaused | None = None

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.status == "error")
