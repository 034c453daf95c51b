"""Prometheus metrics of this process (``GET /metrics`` of the web app; ``psabridge worker --metrics-port``).

Counters are per process, as Prometheus expects (it sums the scrapes of every process). What every
process sees the same — jobs per state, the queue's depth — is read at scrape time by
:class:`psabridge.jobs.metrics.JobsCollector` in the web app.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter("psabridge_runs", "Finished runs by kind (sync, reconcile) and outcome.", ["kind", "outcome"])
RUN_DURATION = Histogram(
    "psabridge_run_duration_seconds",
    "Duration of runs by kind.",
    ["kind"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
OPERATIONS = Counter("psabridge_operations", "Autotask write operations planned by applied syncs.")
AUTOTASK_CALLS = Counter(
    "psabridge_autotask_calls", "Requests sent to Autotask by entity and kind (verb).", ["entity", "kind"]
)
BUDGET_USED = Gauge(
    "psabridge_autotask_budget_used_ratio",
    "Estimated share of the tenant's hourly API threshold used, per connector (last run's reading).",
    ["connector"],
)
NOTIFICATIONS = Counter(
    "psabridge_notifications", "Notifications sent by channel and result.", ["channel", "result"]
)


def count_call(entity: str, verb: str) -> None:
    """One request sent to Autotask (called by the client's call counters)."""
    AUTOTASK_CALLS.labels(entity=entity, kind=verb).inc()
