"""A reconciliation as data: JSON for the API and the CLI, CSV for a spreadsheet or an auditor.

The CSV has one row per proposed fix (a difference without a fix gets one row), so who approved what,
when, and what was written can be read line by line.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy.orm import Session

from psabridge.reconcile import findings as f
from psabridge.reconcile.models import ReconcileDifference, ReconcileFix, ReconcileRun
from psabridge.reconcile.service import differences


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_to_dict(run: ReconcileRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "on_date": run.on_date.isoformat(),
        "status": run.status,
        "estimated_calls": run.estimated_calls,
        "api_calls": run.api_calls,
        "minimum_calls": run.minimum_calls,
        "calls_per_minimum": round(run.api_calls / run.minimum_calls, 3) if run.minimum_calls else None,
        "reads": run.reads,
        "counts": run.counts,
        "differences": sum((run.counts or {}).values()),
        "accepted_earlier": run.accepted,
        "error": run.error,
        "started_by": run.started_by,
        "started_at": _when(run.started_at),
        "finished_at": _when(run.finished_at),
    }


def fix_to_dict(fx: ReconcileFix) -> dict[str, Any]:
    return {
        "id": fx.id,
        "kind": fx.kind,
        "summary": fx.summary,
        "cost": fx.cost,
        "overwrites_person": fx.overwrites_person,
        "approvable": fx.approvable,
        "params": fx.params,
        "status": fx.status,
        "approved_by": fx.approved_by,
        "approved_at": _when(fx.approved_at),
        "applied_at": _when(fx.applied_at),
        "written": fx.written,
        "error": fx.error,
    }


def difference_to_dict(d: ReconcileDifference, fixes: list[ReconcileFix]) -> dict[str, Any]:
    return {
        "id": d.id,
        "category": d.category,
        "category_label": f.CATEGORIES.get(d.category, d.category),
        "label": d.label,
        "record_type": d.record_type,
        "hub_id": d.hub_id,
        "subscription_id": d.subscription_id,
        "autotask_entity": d.autotask_entity,
        "autotask_id": d.autotask_id,
        "field": d.field,
        "autotask_value": d.autotask_value,
        "hub_value": d.hub_value,
        "last_written": d.last_written,
        "changed_by": d.changed_by,
        "detail": d.detail,
        "evidence": d.evidence,
        "fixes": [fix_to_dict(x) for x in fixes],
    }


def run_with_differences(
    session: Session, run: ReconcileRun, *, category: str | None = None
) -> dict[str, Any]:
    return {
        **run_to_dict(run),
        "items": [difference_to_dict(d, fixes) for d, fixes in differences(session, run, category=category)],
    }


CSV_COLUMNS = (
    "run",
    "on_date",
    "difference",
    "category",
    "record",
    "record_type",
    "hub_id",
    "autotask_entity",
    "autotask_id",
    "field",
    "autotask_value",
    "hub_value",
    "last_written",
    "changed_by",
    "fix",
    "fix_kind",
    "fix_summary",
    "cost",
    "overwrites_person",
    "status",
    "approved_by",
    "approved_at",
    "applied_at",
    "written",
    "error",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, default=str, sort_keys=True)
    text = str(value)
    # a spreadsheet must not take a value a person typed in Autotask for a formula
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_text(session: Session, run: ReconcileRun) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for d, fixes in differences(session, run):
        head = [
            run.id,
            run.on_date.isoformat(),
            d.id,
            d.category,
            d.label,
            d.record_type,
            d.hub_id,
            d.autotask_entity,
            d.autotask_id,
            d.field,
            d.autotask_value,
            d.hub_value,
            d.last_written,
            d.changed_by,
        ]
        rows: list[ReconcileFix | None] = [*fixes] or [None]
        for fx in rows:
            tail = (
                [None] * 11
                if fx is None
                else [
                    fx.id,
                    fx.kind,
                    fx.summary,
                    fx.cost,
                    fx.overwrites_person,
                    fx.status,
                    fx.approved_by,
                    _when(fx.approved_at),
                    _when(fx.applied_at),
                    fx.written,
                    fx.error,
                ]
            )
            writer.writerow([_cell(v) for v in [*head, *tail]])
    return out.getvalue()
