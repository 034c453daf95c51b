"""A progress bar per sync phase on the terminal, for a sync that plans and applies batch by batch.

Why one helper: the CLI's ``sync`` and the demo show the same bars. A batched sync learns its work one
batch at a time, so each batch's plan grows the bars' totals (the Products bar is complete after the
catalog batch; the customers' bars grow as their batches are planned).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn


class PhaseProgress:
    """Rich progress bars, one per phase with work; pass :meth:`on_plan` and :meth:`on_op` to the sync."""

    def __init__(self, console: Console, titles: dict[str, str] | None = None) -> None:
        self.titles = titles or {}
        self.progress = Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), console=console
        )
        self.tasks: dict[str, TaskID] = {}
        self.planned = 0

    def __enter__(self) -> PhaseProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def on_plan(self, plan: Any) -> None:
        """One batch was planned: add its operations to each phase's total."""
        for phase, count in Counter(op.phase for op in plan.operations).items():
            self.planned += count
            task = self.tasks.get(phase)
            if task is None:
                self.tasks[phase] = self.progress.add_task(self.titles.get(phase, phase), total=count)
            else:
                total = self.progress.tasks[self._index(task)].total or 0
                self.progress.update(task, total=total + count)

    def on_op(self, op: Any, status: str) -> None:
        """One operation has its outcome."""
        task = self.tasks.get(op.phase)
        if task is not None:
            self.progress.advance(task)

    def _index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task)
