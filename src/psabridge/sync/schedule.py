"""The operations of a plan as a dependency graph, and the order in which ready ones start.

Why apart from the applier: which operation may start when (references to records created by the plan,
date order of one service's adjustments, repeats of one service one after the other) and which goes
first among the ready ones is a pure question about the plan; the applier only runs what this says.
"""

from __future__ import annotations

import heapq
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from psabridge.sync.apply_results import ApplyOutcome, OpResult
from psabridge.sync.keys import ref
from psabridge.sync.planner import Operation


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            yield str(value["$ref"])
            return
        for v in value.values():
            yield from _refs(v)


def dependencies(ops: list[Operation]) -> list[set[int]]:
    """For each operation, the operations that must succeed before it may run.

    * a reference (``$ref``) to a record created (or linked) by another operation of the plan;
    * adjustments of one contract service run in date order (so units read back are unambiguous);
    * contract services of the same service on one contract run one after the other (the first by a
      plain create, repeats through an adjustment that must not be confused with a concurrent one).
    """
    producer: dict[str, int] = {}
    for i, op in enumerate(ops):
        if op.verb in ("create", "link"):
            producer[ref(op.record_type, op.hub_id)] = i
    deps: list[set[int]] = [set() for _ in ops]
    last_adjustment: dict[str, int] = {}
    same_service: dict[str, int] = {}
    for i, op in enumerate(ops):
        for r in (*_refs(op.body), *_refs(op.parent)):
            j = producer.get(r)
            if j is not None and j != i:
                deps[i].add(j)
        if op.verb == "adjust":
            key = json.dumps(op.body.get("contractServiceID"), sort_keys=True)
            if key in last_adjustment:
                deps[i].add(last_adjustment[key])
            last_adjustment[key] = i
        elif op.entity == "ContractServices" and op.verb == "create":
            key = json.dumps([op.body.get("contractID"), op.body.get("serviceID")], sort_keys=True)
            if key in same_service:
                deps[i].add(same_service[key])
            same_service[key] = i
    return deps


class Schedule:
    """The plan's operations as a dependency graph: which may start (per entity), which are settled.

    Ready operations of an entity start longest-chain first: an operation that unlocks a long chain of
    others (a company before its contract, services and adjustments) goes before one that unlocks
    nothing, so every endpoint's slots stay busy along the dependency order and the wall time approaches
    the busiest endpoint's floor.
    """

    def __init__(self, ops: list[Operation], outcome: ApplyOutcome, progress: Any) -> None:
        self.ops = ops
        self.outcome = outcome
        self.progress = progress
        deps = dependencies(ops)
        self.dependants: list[list[int]] = [[] for _ in ops]
        self.remaining = [len(d) for d in deps]
        for i, ds in enumerate(deps):
            for j in ds:
                self.dependants[j].append(i)
        self.chain = self._chain_lengths()
        self.ready: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.settled: set[int] = set()
        for i, n in enumerate(self.remaining):
            if n == 0:
                self._push(i)

    def _chain_lengths(self) -> list[int]:
        """Length of the longest chain of dependants below each operation (dependants come later)."""
        chain = [1] * len(self.ops)
        for i in range(len(self.ops) - 1, -1, -1):
            for j in self.dependants[i]:
                chain[i] = max(chain[i], chain[j] + 1)
        return chain

    def _push(self, i: int) -> None:
        heapq.heappush(self.ready[self.ops[i].entity], (-self.chain[i], i))

    def pop_ready(self, entity: str) -> int | None:
        queue = self.ready.get(entity)
        while queue:
            _, i = heapq.heappop(queue)
            if i not in self.settled:
                return i
        return None

    def settle(self, i: int, result: OpResult) -> None:
        self.settled.add(i)
        self.outcome.results.append(result)
        if self.progress:
            self.progress(result.op, result.status)
        if result.status == "synced":
            for j in self.dependants[i]:
                self.remaining[j] -= 1
                if self.remaining[j] == 0 and j not in self.settled:
                    self._push(j)
            return
        paused = result.status == "not_sent"
        for j in self.dependants[i]:  # everything downstream waits for this record
            if j not in self.settled:
                reason = "Paused: API budget exhausted" if paused else f"Waiting for {self.ops[i].label}"
                self.settle(j, OpResult(self.ops[j], "not_sent" if paused else "waiting", reason=reason))

    def unsettled(self) -> list[int]:
        return [i for i in range(len(self.ops)) if i not in self.settled]
