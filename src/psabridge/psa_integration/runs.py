"""Run history in words: a run's counts, what it left unsynced and what became of previews (the run
pages; a run's results a page at a time are :mod:`psabridge.sync.run_results`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from psabridge.psa_integration.rows import STATUS_LABELS

#: Autotask write verbs as a run page says them ("2 created").
_VERB_WORDS = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "adjust": "adjusted",
}


def describe_counts(counts: dict[str, int]) -> str:
    """A run's counts of one entity in words: ``{"synced": 50, "ops_update_synced": 1}`` ->
    ``"50 synced · written this run: 1 updated"``.

    The engine keys its counts by record status and by ``ops_<verb>_<outcome>`` for the run's writes;
    those keys are internal ids a billing administrator should never have to decode.
    """
    records: list[str] = []
    writes: list[str] = []
    planned: list[str] = []
    for key, value in counts.items():
        if not value:
            continue
        if key in _VERB_WORDS:  # a preview counts the operations it plans by verb
            planned.append(f"{value} to {key}")
        elif key.startswith("ops_"):
            verb, _, outcome = key[4:].partition("_")
            if outcome == "synced":
                writes.append(f"{value} {_VERB_WORDS.get(verb, verb)}")
            elif outcome == "error":
                writes.append(f"{value} {verb} failed")
            else:
                writes.append(
                    f"{value} {verb}: {STATUS_LABELS.get(outcome, outcome.replace('_', ' ')).lower()}"
                )
        else:
            records.append(f"{value} {STATUS_LABELS.get(key, key.replace('_', ' ')).lower()}")
    if planned:
        records.append("planned: " + ", ".join(planned))
    if writes:
        records.append("written this run: " + ", ".join(writes))
    return " · ".join(records)


#: Record statuses a run leaves for a person (or a later run) to deal with.
LEFT_OUT = ("needs_link", "blocked", "waiting", "error", "drift")


def left_out(counts: dict[str, dict[str, int]]) -> str:
    """What a finished run left unsynced, in words ("17 records not synced: 1 needs link, 16 waiting"), so
    a run listed as "succeeded" does not hide the records it could not push; "" when there are none."""
    totals = Counter[str]()
    for phase_counts in counts.values():
        for status in LEFT_OUT:
            totals[status] += int(phase_counts.get(status, 0) or 0)
    total = sum(totals.values())
    if not total:
        return ""
    parts = ", ".join(f"{totals[s]} {STATUS_LABELS[s].lower()}" for s in LEFT_OUT if totals[s])
    return f"{total} record(s) not synced: {parts}"


# --- run history: what became of previews ------------------------------------------------------------


def preview_states(runs: list[Any]) -> dict[int, tuple[str, str]]:
    """What became of each preview still marked "planned" (``runs`` newest first): the preview a push
    performed is "pushed", an older or replaced one "superseded"; only the newest preview since the last
    push stays "planned"."""
    states: dict[int, tuple[str, str]] = {}
    later_push: Any = None
    later_preview = False
    for run in runs:  # newest first
        if run.mode == "apply":
            later_push, later_preview = run, False
            continue
        if run.status != "planned":
            continue
        if later_push is not None and not later_preview:
            states[run.id] = ("pushed", f"pushed by run {later_push.id}")
        elif later_push is not None or later_preview:
            states[run.id] = ("superseded", "replaced by a newer preview or push")
        later_preview = True
    return states
