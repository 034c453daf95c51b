"""Reading import files: CSV (one record type per file) and JSON (an array of one type, or an object
mapping type names to arrays). Rows keep the line they start on so errors point into the file.

CSV is read lazily, row by row, from the file (or bytes) it came in: a 100 MB upload is never held as
rows in memory (the checker validates each row as it comes and stages it on disk). JSON is parsed whole
(``json`` has no incremental reader), so the size cap matters more for it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, Any

from psabridge.hub.errors import FieldError, ImportFailed
from psabridge.hub.imports.types import normalize_type, type_from_filename

MAX_BYTES = 200 * 1024 * 1024


@dataclass
class RawRow:
    line: int
    data: dict[str, Any]


#: A lazy source of rows: called once by the checker, yields ``(record type, row)`` in file order.
RowSource = Callable[[], Iterator[tuple[str, RawRow]]]


@dataclass
class Upload:
    """Parsed files: rows per record type held in memory (JSON, generated data) and lazy row sources
    (CSV), read once, in order, by the checker."""

    name: str
    sections: dict[str, list[RawRow]] = field(default_factory=dict)
    sources: list[RowSource] = field(default_factory=list)

    def merge(self, other: Upload) -> None:
        for type_name, rows in other.sections.items():
            self.sections.setdefault(type_name, []).extend(rows)
        self.sources.extend(other.sources)

    def rows(self) -> Iterator[tuple[str, RawRow]]:
        """Every row of every file, with its record type."""
        for type_name, rows in self.sections.items():
            for row in rows:
                yield type_name, row
        for source in self.sources:
            yield from source()


def _fail(message: str, field_name: str = "file", line: int | None = None) -> ImportFailed:
    return ImportFailed(message, [FieldError(field_name, message, line)])


def detect_format(name: str, content: bytes, declared: str | None = None) -> str:
    if declared:
        fmt = declared.lower().strip()
        if fmt not in {"csv", "json"}:
            raise _fail(f"unknown format {declared!r}: use csv or json", "format")
        return fmt
    suffix = PurePath(name).suffix.lower()
    if suffix in {".csv", ".json"}:
        return suffix[1:]
    return "json" if content.lstrip()[:1] in (b"[", b"{") else "csv"


def _declared(record_type: str | None) -> str | None:
    if not record_type:
        return None
    declared_type = normalize_type(record_type)
    if declared_type is None:
        raise _fail(f"unknown record type {record_type!r}", "type")
    return declared_type


def parse(
    name: str, content: bytes, *, record_type: str | None = None, file_format: str | None = None
) -> Upload:
    """Parse one file given as bytes; ``record_type`` is needed when neither the file nor its name says."""
    if len(content) > MAX_BYTES:
        raise _fail(f"file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    declared_type = _declared(record_type)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    fmt = detect_format(name, content, file_format)
    if fmt == "csv":
        return _csv_upload(name, lambda: io.StringIO(text, newline=""), declared_type)
    return _parse_json(name, text, declared_type)


def parse_path(
    path: Path, *, name: str | None = None, record_type: str | None = None, file_format: str | None = None
) -> Upload:
    """Parse one file on disk (an upload streamed to a temporary file, or a CLI argument). CSV rows are
    read lazily from the file when the import checks them; JSON is read whole."""
    name = name or path.name
    if path.stat().st_size > MAX_BYTES:
        raise _fail(f"file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    declared_type = _declared(record_type)
    with path.open("rb") as fh:
        head = fh.read(4096)
    fmt = detect_format(name, head.removeprefix(b"\xef\xbb\xbf"), file_format)
    if fmt == "json":
        return parse(name, path.read_bytes(), record_type=declared_type, file_format="json")
    return _csv_upload(name, lambda: path.open(encoding="utf-8-sig", newline=""), declared_type)


def _csv_upload(name: str, opener: Callable[[], IO[str]], declared_type: str | None) -> Upload:
    """An upload whose rows are read from the CSV when the import checks them; the header is checked
    now, so an empty file or a doubled column is refused at once."""
    with opener() as fh:
        try:
            header = next(csv.reader(fh))
        except StopIteration:
            raise _fail("the file is empty (a CSV needs a header row)") from None
        except UnicodeDecodeError as exc:
            raise _fail(f"not UTF-8 text ({exc.reason})") from exc
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        raise _fail("the header names a column twice", "header", 1)
    file_type = declared_type or type_from_filename(PurePath(name).stem)

    def rows() -> Iterator[tuple[str, RawRow]]:
        with opener() as fh:
            reader = csv.reader(fh)
            line = 1
            try:
                next(reader)
                for values in reader:
                    start = line + 1
                    line = reader.line_num
                    row = _csv_row(header, [v.strip() for v in values], file_type, start)
                    if row is not None:
                        yield row
            except UnicodeDecodeError as exc:
                raise _fail(f"not UTF-8 text ({exc.reason}) after line {line}", "file", line + 1) from exc
            except csv.Error as exc:
                raise _fail(f"not valid CSV: {exc}", "row", line + 1) from exc

    return Upload(name, sources=[rows])


def _csv_row(
    header: list[str], values: list[str], file_type: str | None, start: int
) -> tuple[str, RawRow] | None:
    if not any(values):
        return None
    if len(values) != len(header):
        raise _fail(f"row has {len(values)} cells but the header has {len(header)}", "row", start)
    data = {h: v for h, v in zip(header, values, strict=True) if v}
    row_type = file_type
    if "record_type" in data:
        row_type = normalize_type(data.pop("record_type")) or ""
    if not row_type:
        raise _fail(
            "record type unknown: pass --type (or ?type=), add a record_type column, "
            "or name the file after the type (e.g. subscriptions.csv)",
            "type",
            start,
        )
    return row_type, RawRow(start, data)


class _Scanner:
    """Walks a JSON document keeping the line each array item starts on (``json`` alone forgets it)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.decoder = json.JSONDecoder()

    def line_of(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def skip(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in " \t\r\n":
            pos += 1
        return pos

    def expect(self, pos: int, char: str) -> int:
        pos = self.skip(pos)
        if pos >= len(self.text) or self.text[pos] != char:
            raise json.JSONDecodeError(f"Expecting {char!r}", self.text, pos)
        return pos + 1

    def array(self, pos: int) -> tuple[list[tuple[int, Any]], int]:
        pos = self.expect(pos, "[")
        items: list[tuple[int, Any]] = []
        pos = self.skip(pos)
        if self.text[pos : pos + 1] == "]":
            return items, pos + 1
        while True:
            pos = self.skip(pos)
            value, end = self.decoder.raw_decode(self.text, pos)
            items.append((self.line_of(pos), value))
            pos = self.skip(end)
            if self.text[pos : pos + 1] == ",":
                pos += 1
                continue
            return items, self.expect(pos, "]")


def _parse_json(name: str, text: str, declared_type: str | None) -> Upload:
    scanner = _Scanner(text)
    start = scanner.skip(0)
    upload = Upload(name)
    try:
        json.loads(text)  # syntax errors with the standard message and position first
        if text[start : start + 1] == "[":
            items, _ = scanner.array(start)
            row_type = declared_type or type_from_filename(PurePath(name).stem)
            _add_items(upload, items, row_type)
            return upload
        pos = scanner.expect(start, "{")
        while True:
            pos = scanner.skip(pos)
            if text[pos : pos + 1] == "}":
                break
            key, pos = scanner.decoder.raw_decode(text, pos)
            pos = scanner.expect(pos, ":")
            value_pos = scanner.skip(pos)
            type_name = normalize_type(str(key))
            if type_name is None:
                raise _fail(
                    f"unknown record type {key!r} (expected e.g. accounts, subscriptions)",
                    str(key),
                    scanner.line_of(value_pos),
                )
            if text[value_pos : value_pos + 1] != "[":
                raise _fail(f"{key!r} must be an array of records", str(key), scanner.line_of(value_pos))
            items, pos = scanner.array(value_pos)
            _add_items(upload, items, type_name)
            pos = scanner.skip(pos)
            if text[pos : pos + 1] == ",":
                pos += 1
    except json.JSONDecodeError as exc:
        raise _fail(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", "file", exc.lineno
        ) from exc
    return upload


def _add_items(upload: Upload, items: list[tuple[int, Any]], default_type: str | None) -> None:
    for line, item in items:
        if not isinstance(item, dict):
            raise _fail("each record must be a JSON object", "row", line)
        data = dict(item)
        row_type = default_type
        if "record_type" in data:
            row_type = normalize_type(str(data.pop("record_type")))
        if row_type is None:
            raise _fail(
                "record type unknown: pass --type (or ?type=), add record_type, or use "
                '{"subscriptions": [...]} form',
                "type",
                line,
            )
        data = {k: v for k, v in data.items() if v is not None and v != ""}
        upload.sections.setdefault(row_type, []).append(RawRow(line, data))
