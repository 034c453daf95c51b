"""``apply(plan)``: execute exactly the operations of a plan, journaled, concurrently where safe.

An operation starts once the operations it depends on succeeded (a contact needs its company's id, an
adjustment its contract service and the service's earlier adjustments); independent operations overlap,
at most 3 in flight per Autotask entity. An operation whose dependency failed is not sent and shows
"Waiting for <record>".
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask.errors import AutotaskError, BudgetExhaustedError, OutcomeUnknownError
from psabridge.autotask.outcomes import Outcome, rule_for
from psabridge.sync import journal as jr
from psabridge.sync.apply_results import ApplyOutcome, BudgetPaused, OpResult
from psabridge.sync.keys import parse_ref, ref
from psabridge.sync.models import JournalEntry
from psabridge.sync.planner import Operation, Plan
from psabridge.sync.reader import AutotaskApi
from psabridge.sync.schedule import Schedule, dependencies

log = logging.getLogger(__name__)


#: Operations in flight per Autotask entity (Autotask allows 3 concurrent requests per endpoint; the
#: client enforces the same limit for every caller of the process).
PER_ENDPOINT = 3
#: Operations per entity started beyond the 3 on the wire: they write their journal intent and wait at
#: the client's endpoint slot, so a slot that frees is taken by a request at once instead of after the
#: next operation's journal write (per call, that write and the previous outcome's made every request of
#: the busiest endpoint last latency + a few ms: wall time 1.25x the floor at 100 ms; 1.13 with 2 ahead,
#: 1.09 with 5 — docs/benchmarks.md). A 10,000-customer first sync with 5 ahead once ended "partial"
#: (last session, cause not recorded); repeated since (1 x 10,000 customers with 5 ahead, 6 x 2,000 with
#: 8 ahead) it succeeded every time, and the benchmarks now record every run's error and record statuses.
AHEAD = 5
#: Upper bound of worker threads ((3 + AHEAD) per entity of the plan).
MAX_WORKERS = 64


@dataclass
class ApplyContext:
    organization_id: int
    connector_id: int
    run_id: int | None
    session_factory: sessionmaker[Session]
    client: AutotaskApi
    #: ref ("record_type:hub_id") -> Autotask id, from the links; grows as creates succeed
    ids: dict[str, int]
    labels: dict[str, str] = field(default_factory=dict)
    progress: Callable[[Operation, str], None] | None = None


class _Unresolved(Exception):
    pass


def _resolve(value: Any, ids: dict[str, int], labels: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            target = str(value["$ref"])
            if target not in ids:
                raise _Unresolved(f"Waiting for {labels.get(target, target)}")
            return ids[target]
        return {k: _resolve(v, ids, labels) for k, v in value.items()}
    return value


def _covers(op: Operation) -> list[dict[str, Any]]:
    records = [{"record_type": op.record_type, "hub_id": op.hub_id, "fingerprint": op.fingerprint}]
    for rt, hid in op.covers:
        if (rt, hid) != (op.record_type, op.hub_id):
            records.append({"record_type": rt, "hub_id": hid, "fingerprint": None})
    return records


class _Runner:
    def __init__(self, ctx: ApplyContext) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        with ctx.session_factory() as probe:
            sqlite = probe.get_bind().dialect.name == "sqlite"
        self.write_lock: AbstractContextManager[Any] = threading.Lock() if sqlite else nullcontext()
        self.stop = threading.Event()
        self.paused: BudgetPaused | None = None

    def run_op(self, op: Operation) -> OpResult:
        ctx = self.ctx
        with self.lock:
            ids = dict(ctx.ids)
        try:
            body = _resolve(op.body, ids, ctx.labels)
            parent = _resolve(op.parent, ids, ctx.labels)
        except _Unresolved as exc:
            return OpResult(op, "waiting", reason=str(exc))
        if op.verb == "adjust" and body.get("contractServiceID") is None:
            return OpResult(op, "waiting", reason="Waiting for the contract service")
        covers: dict[str, Any] = {"records": _covers(op)}
        if parent is not None:
            covers["parent_autotask_id"] = int(parent)
        if op.verb == "adjust":
            covers.update(
                contract_service_id=body["contractServiceID"],
                effective_date=body["effectiveDate"],
                units_after=op.units_after,
            )
            if body.get("adjustedUnitPrice") is not None:
                # a price-only adjustment leaves the units as they were: verified through the price
                covers["price_after"] = body["adjustedUnitPrice"]
        if op.repeat:
            # added (without a key: Autotask does not update internalDescription) by an adjustment:
            # reconciled by looking for an unlinked contract service of this service on this contract
            # whose units start on this date
            covers["repeat"] = {
                "contract_id": int(body["contractID"]),
                "service_id": int(body["serviceID"]),
                "effective_date": body["effectiveDate"],
                "units": int(body.get("unitChange") or 0),
            }
        if op.created_with:
            covers["created_with"] = op.created_with
        session = ctx.session_factory()
        try:
            # The entry is a plain carrier; rows are written with Core statements (an ORM flush per
            # journal step costs more CPU than the HTTP call it guards).
            entry = JournalEntry(
                organization_id=ctx.organization_id,
                connector_id=ctx.connector_id,
                run_id=ctx.run_id,
                op_id=op.op_id,
                entity=op.entity,
                verb=op.verb,
                body_hash=jr.body_hash(body),
                body=body,
                matching_key=op.matching_key,
                parent_id=int(parent) if parent is not None else None,
                covers=covers,
                created_at=jr.now(),
            )
            if op.verb == "link":
                entry.outcome, entry.autotask_id, entry.finished_at = jr.DONE, op.autotask_id, jr.now()
                with self._writing(session):
                    jr.insert_entry(session, entry)
                    jr.mark_synced(session, entry, op.autotask_id)
                self._remember(op, op.autotask_id)
                return OpResult(op, "synced", op.autotask_id)
            with self._writing(session):  # the intent is durable before the call
                jr.insert_entry(session, entry)
            try:
                new_id = self._call(op, body, parent)
            except (AutotaskError, OSError) as exc:
                with self._writing(session):
                    return self._failed(session, entry, op, exc)
            result_id = op.autotask_id if op.verb in ("update",) else new_id
            with self._writing(session):
                jr.finish_entry(session, entry, jr.DONE, autotask_id=result_id)
                jr.mark_synced(session, entry, result_id)
            self._remember(op, result_id)
            return OpResult(op, "synced", result_id)
        finally:
            session.close()

    @contextmanager
    def _writing(self, session: Session) -> Iterator[None]:
        """One journal transaction, committed at the end. On SQLite the writer threads queue on a lock
        here instead of in SQLite's busy handler, which sleeps in growing steps while the file is locked
        (most of a sync's time went there); PostgreSQL takes concurrent writers as they come.

        The session takes its pooled connection only here, inside the lock, and gives it back at the
        commit: an operation waiting for the lock or for its endpoint's slot holds no connection (with
        more operations started than connections in the pool, holding one while waiting ran the pool
        dry: "QueuePool limit … reached" after 30 s)."""
        with self.write_lock:
            _fast_commits(session)
            yield
            session.commit()

    def _failed(self, session: Session, entry: JournalEntry, op: Operation, exc: Exception) -> OpResult:
        """Journal a write that raised, by what the error means (:mod:`psabridge.autotask.outcomes`)."""
        message = _message(exc)
        if isinstance(exc, BudgetExhaustedError):
            self.paused = BudgetPaused(exc.resume_at)
            self.stop.set()
            jr.finish_entry(session, entry, jr.NOT_SENT, error=message)
            return OpResult(op, "not_sent", reason="Paused: API budget exhausted")
        outcome = rule_for(exc).outcome
        if outcome == Outcome.NOT_SENT:  # rejected before execution: nothing was written
            jr.finish_entry(session, entry, jr.NOT_SENT, error=message)
            jr.mark_error(session, entry, message)
        elif outcome == Outcome.REFUSED:
            # Autotask refused it; the next run still checks by key before retrying (SCENARIOS 23)
            jr.finish_entry(session, entry, jr.FAILED, error=message)
            jr.mark_error(session, entry, message)
        else:
            jr.finish_entry(session, entry, jr.UNKNOWN, error=message)
            jr.mark_error(session, entry, f"Outcome unknown, checked on the next run: {message}")
        return OpResult(op, "error", reason=message)

    def _remember(self, op: Operation, autotask_id: int | None) -> None:
        if autotask_id is None or op.verb == "adjust":
            return
        with self.lock:
            self.ctx.ids[ref(op.record_type, op.hub_id)] = autotask_id

    def _call(self, op: Operation, body: dict[str, Any], parent: Any) -> int:
        client = self.ctx.client
        parent_id = int(parent) if parent is not None else None
        if op.verb == "update":
            return client.update(op.entity, body, parent_id=parent_id)
        if op.repeat:
            return self._create_repeat(op, body)
        return client.create(op.entity, body, parent_id=parent_id)

    def _create_repeat(self, op: Operation, body: dict[str, Any]) -> int:
        """A second contract service of the same service: Autotask adds it only through an adjustment
        with ``allowRepeatService`` (``body``), which also sets its first units. It carries no key (its
        internalDescription cannot be updated), so the new one is found by one query of the contract's
        services: the one of this service that no hub record is linked to yet."""
        client = self.ctx.client
        contract_id, service_id = int(body["contractID"]), int(body["serviceID"])
        client.create("ContractServiceAdjustments", body)
        # From here on the service exists in Autotask: whatever stops the lookup (429 until the client
        # gives up, the budget cap, a 500, a lost answer) leaves the write "unknown", never "not sent", so
        # the next run reconciles it (finds the unlinked service) instead of adding it a second time.
        try:
            rows = list(
                client.query_in(
                    "ContractServices",
                    "contractID",
                    [contract_id],
                    include_fields=["id", "serviceID", "internalDescription"],
                )
            )
            with self.lock:
                linked = {v for k, v in self.ctx.ids.items() if k.startswith("subscription:")}
            fresh = [
                int(r["id"])
                for r in rows
                if int(r.get("serviceID") or 0) == service_id
                and not r.get("internalDescription")
                and int(r["id"]) not in linked
            ]
            if not fresh:
                raise OutcomeUnknownError("The repeat contract service was not found after its adjustment")
        except OutcomeUnknownError:
            raise
        except Exception as exc:
            if isinstance(exc, BudgetExhaustedError):
                self.paused = BudgetPaused(exc.resume_at)
                self.stop.set()
            raise OutcomeUnknownError(
                f"The repeat contract service was added but could not be identified yet: {_message(exc)}"
            ) from exc
        return max(fresh)


def _fast_commits(session: Session) -> None:
    """SQLite: commit the journal without an fsync per transaction (``synchronous=NORMAL`` in WAL mode).

    Every write costs two journal commits; with an fsync each (~6 ms) they serialise all writer threads
    and dominate a sync's wall time. In WAL mode NORMAL is still durable when the *process* dies (kill,
    crash): only an OS crash or power loss can lose the last commits, and the matching-key
    reconciliation then still finds created records. PostgreSQL is left as configured.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.info.get("psab_fast_commits"):  # once per pooled connection
        connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
        connection.info["psab_fast_commits"] = True


def _message(exc: Exception) -> str:
    messages = getattr(exc, "messages", None)
    if messages:
        return "; ".join(str(m) for m in messages)
    return str(exc) or exc.__class__.__name__


def apply(plan: Plan, ctx: ApplyContext) -> ApplyOutcome:
    """Execute exactly the operations of ``plan`` (journaled). Stops early when the budget runs out.

    Scheduling follows the dependencies between operations rather than phase barriers: a contact is
    written as soon as its company exists, a contract as soon as its company does, and so on, with at
    most ``PER_ENDPOINT`` requests in flight per Autotask entity (the tenant's concurrency limit, held by
    the client) and ``AHEAD`` more operations journaled and waiting for a slot. The set of operations is
    exactly the plan's; only independent operations overlap.
    """
    runner = _Runner(ctx)
    outcome = ApplyOutcome()
    ops = list(plan.operations)
    for op in ops:
        ctx.labels.setdefault(ref(op.record_type, op.hub_id), op.label)
    schedule = Schedule(ops, outcome, ctx.progress)
    entities = sorted({op.entity for op in ops})
    in_flight: dict[Future[OpResult], int] = {}
    # finished operations, in the order they finished: one queue instead of ``wait(FIRST_COMPLETED)``
    # over every future in flight (which registers a waiter on each, per completion)
    finished: queue.SimpleQueue[Future[OpResult]] = queue.SimpleQueue()
    busy: Counter[str] = Counter()
    per_entity = PER_ENDPOINT + AHEAD
    workers = max(1, per_entity * len(entities))
    with ThreadPoolExecutor(max_workers=min(workers, MAX_WORKERS)) as pool:
        while True:
            if not runner.stop.is_set():
                for entity in entities:
                    while busy[entity] < per_entity and (i := schedule.pop_ready(entity)) is not None:
                        busy[entity] += 1
                        future = pool.submit(runner.run_op, ops[i])
                        in_flight[future] = i
                        future.add_done_callback(finished.put)
            if not in_flight:
                break
            future = finished.get()
            i = in_flight.pop(future)
            busy[ops[i].entity] -= 1
            schedule.settle(i, _result_of(future, ops[i]))
    for i in schedule.unsettled():  # budget pause: what was never started
        schedule.settle(i, OpResult(ops[i], "not_sent", reason="Paused: API budget exhausted"))
    outcome.paused = runner.paused
    return outcome


def _result_of(future: Future[OpResult], op: Operation) -> OpResult:
    try:
        return future.result()
    except Exception as exc:  # e.g. the database went away: the journal reconciles it later
        log.exception("sync operation %s failed unexpectedly", op.op_id)
        return OpResult(op, "error", reason=f"Internal error: {exc}")


def ids_from_links(links: dict[tuple[str, int], Any]) -> dict[str, int]:
    """Reference map ``record_type:hub_id -> autotask id`` for records already in Autotask."""
    out: dict[str, int] = {}
    for (record_type, hub_id), link in links.items():
        if link.autotask_id is not None and record_type not in (
            "license_change_log",
            "subscription_start",
            "cancellation",
            "reversal",
            "refund",
            "correction",
        ):
            out[ref(record_type, hub_id)] = int(link.autotask_id)
    return out


__all__ = [
    "ApplyContext",
    "ApplyOutcome",
    "BudgetPaused",
    "OpResult",
    "apply",
    "dependencies",
    "ids_from_links",
    "parse_ref",
]
