"""Disk staging of an import's checked rows, so a 100 MB file is never held as Python objects.

An import is all or nothing, and its checks need every row (references inside the file, duplicates,
seat arithmetic), so the rows must be kept somewhere between reading and writing. In memory that cost
about 30x the file size. Here each valid row goes into a temporary SQLite file (pickled values, indexed
by record type and external id); the checker and the writer iterate it in file order and look rows up
by external id. Rows of other organizations never come near it: it lives only for one import.
"""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

_BATCH = 2000


@dataclass
class ValidRow:
    """A row that passed its schema: its line in the file and its values (``model_dump`` of the row)."""

    line: int
    values: dict[str, Any]

    @property
    def external_id(self) -> str:
        return str(self.values["external_id"])


class Staging:
    """The temporary store of one import (close it when the import is done)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="psabridge-import-")
        self.db = sqlite3.connect(Path(self._dir.name) / "staging.db", check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE rows (id INTEGER PRIMARY KEY, type TEXT, ext TEXT, line INT, data BLOB)"
        )
        self._pending: list[tuple[str, str, int, bytes | None]] = []
        self._indexed = False

    def add(self, type_name: str, ext: str, line: int, values: dict[str, Any] | None) -> None:
        """Stage a row (``values`` None marks an external id whose row failed its schema)."""
        data = None if values is None else pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL)
        self._pending.append((type_name, ext, line, data))
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.db.executemany("INSERT INTO rows (type, ext, line, data) VALUES (?, ?, ?, ?)", self._pending)
            self._pending.clear()

    def finish(self) -> None:
        """All rows are staged: index them for lookups."""
        self._flush()
        if not self._indexed:
            self.db.execute("CREATE INDEX rows_type_ext ON rows (type, ext)")
            self._indexed = True

    def duplicates(self, type_name: str) -> Iterator[tuple[int, str, int, int]]:
        """``(row id, external id, line, first line)`` of every repeat of an external id after its first."""
        query = (
            "SELECT r.id, r.ext, r.line, f.first FROM rows r JOIN "
            "(SELECT ext, MIN(id) AS keep, MIN(line) AS first FROM rows WHERE type = ? "
            "GROUP BY ext HAVING COUNT(*) > 1) f ON r.ext = f.ext "
            "WHERE r.type = ? AND r.id != f.keep ORDER BY r.id"
        )
        yield from self.db.execute(query, (type_name, type_name))

    def delete(self, row_ids: list[int]) -> None:
        for start in range(0, len(row_ids), 500):
            chunk = row_ids[start : start + 500]
            self.db.execute(f"DELETE FROM rows WHERE id IN ({','.join('?' * len(chunk))})", chunk)

    def view(self, type_name: str) -> RowView:
        return RowView(self, type_name)

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()


class RowView:
    """The staged valid rows of one record type: iterate (file order), ``len``, ``in`` and ``get`` by
    external id; what the checker and the writer used to keep as lists and dicts."""

    def __init__(self, staging: Staging, type_name: str) -> None:
        self.staging = staging
        self.type_name = type_name
        self._len: int | None = None
        self.get = lru_cache(maxsize=4096)(self._get)

    def __iter__(self) -> Iterator[ValidRow]:
        cursor = self.staging.db.execute(
            "SELECT line, data FROM rows WHERE type = ? AND data IS NOT NULL ORDER BY id", (self.type_name,)
        )
        while batch := cursor.fetchmany(_BATCH):
            for line, data in batch:
                yield ValidRow(line, pickle.loads(data))

    def __len__(self) -> int:
        if self._len is None:
            self._len = int(
                self.staging.db.execute(
                    "SELECT COUNT(*) FROM rows WHERE type = ? AND data IS NOT NULL", (self.type_name,)
                ).fetchone()[0]
            )
        return self._len

    def __bool__(self) -> bool:
        return len(self) > 0

    def __contains__(self, ext: object) -> bool:
        return isinstance(ext, str) and self.get(ext) is not None

    def _get(self, ext: str) -> ValidRow | None:
        found = self.staging.db.execute(
            "SELECT line, data FROM rows WHERE type = ? AND ext = ? AND data IS NOT NULL LIMIT 1",
            (self.type_name, ext),
        ).fetchone()
        return None if found is None else ValidRow(found[0], pickle.loads(found[1]))

    def has_key(self, ext: str) -> bool:
        """Whether any row (valid or not) of this type has ``ext``."""
        return (
            self.staging.db.execute(
                "SELECT 1 FROM rows WHERE type = ? AND ext = ? LIMIT 1", (self.type_name, ext)
            ).fetchone()
            is not None
        )
