"""Durable tenant state: a JSON snapshot plus an append-only journal of committed changes.

Rewriting the whole tenant after every write made ``--state`` runs quadratic (a demo tenant with its
ContractServiceUnits rows is ~2 MB, rewritten once per API write). Instead every committed change is
one JSON line appended to ``<state file>.journal`` and flushed to the OS before the emulator answers,
so an acknowledged write survives a kill -9 of the emulator (with ``fsync=True`` also a power loss).
On start the snapshot is loaded and the journal replayed; when the journal outgrows the snapshot, and
on clean shutdown, the state is compacted into a new snapshot (temp file, fsync, atomic rename) and
the journal emptied.

Each journal line carries a sequence number and the snapshot records the last one it contains, so a
crash between the snapshot rename and the journal truncation replays nothing twice. A torn last line
(the process died mid-append, before answering) is dropped; damage followed by intact lines is
refused with the file and line named rather than silently losing acknowledged writes.

A single-file state written before the journal existed is simply a snapshot without a journal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

SEQ_KEY = "journalSeq"
DEFAULT_COMPACT_BYTES = 4 * 1024 * 1024


class StateFileError(RuntimeError):
    """The state file or its journal cannot be read back; names the file and line."""


def journal_path(state_file: Path) -> Path:
    """Where the journal of ``state_file`` lives (beside it, same name + ``.journal``)."""
    return state_file.with_name(state_file.name + ".journal")


def apply_change(state: dict[str, Any], entry: dict[str, Any]) -> None:
    """Replay one journal entry: set or delete each touched row, then the small whole-value parts.

    ``changes`` holds ``[section, entity, key, value]``; section ``records`` addresses
    ``state["records"][entity][key]``, the others (``adjustments``, ``unit_events``) ``state[section][key]``;
    a null value deletes. Values are absolute, so replaying an entry twice is harmless.
    """
    for section, entity, key, value in entry.get("changes", []):
        target = state["records"].setdefault(entity, {}) if section == "records" else state[section]
        if value is None:
            target.pop(int(key), None)
        else:
            target[int(key)] = value
    for whole in ("next_id", "denied"):
        if whole in entry:
            state[whole] = entry[whole]


def _intify(state: dict[str, Any]) -> dict[str, Any]:
    """JSON object keys are text; the tenant keys rows by int."""
    state["records"] = {e: {int(k): v for k, v in rows.items()} for e, rows in state["records"].items()}
    state["adjustments"] = {int(k): v for k, v in state.get("adjustments", {}).items()}
    state["unit_events"] = {int(k): v for k, v in state.get("unit_events", {}).items()}
    state.setdefault("denied", [])
    return state


class StateStore:
    """The snapshot file and its journal for one tenant (callers hold the tenant's lock)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = False,
        compact_bytes: int = DEFAULT_COMPACT_BYTES,
    ) -> None:
        self.path = Path(path)
        self.journal = journal_path(self.path)
        self.fsync = fsync
        self.compact_bytes = compact_bytes
        self.seq = 0  # last committed change
        self.snapshot_seq = 0  # last change the snapshot on disk contains
        self.snapshot_bytes = 0
        self.journal_bytes = 0
        self._fh: IO[bytes] | None = None

    # ----- start ---------------------------------------------------------------------------------
    def load(self) -> dict[str, Any] | None:
        """The state as last acknowledged (snapshot + journal), or None when there is no snapshot."""
        if not self.path.exists():
            return None
        raw = self.path.read_bytes()
        try:
            state: dict[str, Any] = json.loads(raw)
        except ValueError as exc:
            raise StateFileError(f"{self.path}: not a readable emulator state file ({exc})") from None
        self.snapshot_seq = self.seq = int(state.pop(SEQ_KEY, 0))
        self.snapshot_bytes = len(raw)
        _intify(state)
        replayed = 0
        for entry in self._journal_entries():
            if int(entry["seq"]) <= self.snapshot_seq:
                continue  # already in the snapshot (crash between rename and truncation)
            apply_change(state, entry)
            self.seq = int(entry["seq"])
            replayed += 1
        if replayed:
            log.info("emulator state: replayed %d journal entries from %s", replayed, self.journal)
        return state

    def _journal_entries(self) -> list[dict[str, Any]]:
        """Intact journal entries; a torn tail is cut off the file so later appends start clean."""
        if not self.journal.exists():
            self.journal_bytes = 0
            return []
        data = self.journal.read_bytes()
        entries: list[dict[str, Any]] = []
        good_end = 0  # byte offset just after the last intact line
        bad_line: int | None = None
        offset = 0
        for number, line in enumerate(data.split(b"\n"), start=1):
            end = offset + len(line) + 1
            complete = end <= len(data)  # the piece after the last newline has none
            offset = end
            if not line.strip():
                continue
            entry = self._parse(line) if complete else None
            if entry is None:
                bad_line = bad_line or number
                continue
            if bad_line is not None:
                raise StateFileError(
                    f"{self.journal}: line {bad_line} is damaged but later lines are intact; "
                    "refusing to drop acknowledged writes (move the journal away to start from the snapshot)"
                )
            entries.append(entry)
            good_end = end
        if good_end < len(data):
            log.warning(
                "emulator state: ignoring a torn last journal entry in %s (%d bytes)",
                self.journal,
                len(data) - good_end,
            )
            with self.journal.open("r+b") as fh:
                fh.truncate(good_end)
        self.journal_bytes = good_end
        return entries

    @staticmethod
    def _parse(line: bytes) -> dict[str, Any] | None:
        try:
            entry = json.loads(line)
        except ValueError:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
            return None
        return entry

    # ----- commits -------------------------------------------------------------------------------
    def append(self, entry: dict[str, Any]) -> None:
        """Write one committed change and flush it (and fsync when asked) before returning."""
        self.seq += 1
        line = json.dumps({"seq": self.seq, **entry}, separators=(",", ":")).encode() + b"\n"
        fh = self._handle()
        try:
            fh.write(line)
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
        except OSError:
            # e.g. disk full: the API answers 500; cut the partial line so later appends stay readable
            self._fh = None
            with contextlib.suppress(OSError):
                fh.close()  # flushing the rest may fail again
            with self.journal.open("r+b") as cut:
                cut.truncate(self.journal_bytes)
            raise
        self.journal_bytes += len(line)

    def wants_compaction(self) -> bool:
        """The journal has outgrown the snapshot (replay would cost more than a rewrite)."""
        return self.journal_bytes > max(self.compact_bytes, self.snapshot_bytes)

    def _handle(self) -> IO[bytes]:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.journal.open("ab")
        return self._fh

    def compact(self, state: dict[str, Any]) -> None:
        """Write ``state`` as the new snapshot (atomically, synced) and empty the journal."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".emulator-state-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as fh:
                data = json.dumps({**state, SEQ_KEY: self.seq}, separators=(",", ":")).encode()
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())  # the journal is emptied next: the snapshot must be on disk
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._sync_dir()
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with self.journal.open("wb") as fh:  # truncate; entries up to self.seq are in the snapshot
            if self.fsync:
                os.fsync(fh.fileno())
        self.snapshot_seq = self.seq
        self.snapshot_bytes = len(data)
        self.journal_bytes = 0

    def _sync_dir(self) -> None:
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def close(self, state: dict[str, Any]) -> None:
        """Clean shutdown: fold the journal into the snapshot (nothing is written if nothing changed)."""
        if self.seq != self.snapshot_seq or self.journal_bytes:
            self.compact(state)
        if self._fh is not None:
            self._fh.close()
            self._fh = None
