"""Reading import files: CSV (one record type per file) and JSON (an array of one type, or an object
mapping type names to arrays). Rows keep the line they start on so errors point into the file."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from psabridge.hub.errors import FieldError, ImportFailed
from psabridge.hub.imports.types import normalize_type, type_from_filename

MAX_BYTES = 200 * 1024 * 1024


@dataclass
class RawRow:
    line: int
    data: dict[str, Any]


@dataclass
class Upload:
    """A parsed file: rows per record type, in file order."""

    name: str
    sections: dict[str, list[RawRow]] = field(default_factory=dict)

    def merge(self, other: Upload) -> None:
        for type_name, rows in other.sections.items():
            self.sections.setdefault(type_name, []).extend(rows)


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


def parse(
    name: str, content: bytes, *, record_type: str | None = None, file_format: str | None = None
) -> Upload:
    """Parse one file; ``record_type`` is needed when neither the file nor its name says."""
    if len(content) > MAX_BYTES:
        raise _fail(f"file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    declared_type = None
    if record_type:
        declared_type = normalize_type(record_type)
        if declared_type is None:
            raise _fail(f"unknown record type {record_type!r}", "type")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    fmt = detect_format(name, content, file_format)
    if fmt == "csv":
        return _parse_csv(name, text, declared_type)
    return _parse_json(name, text, declared_type)


def _parse_csv(name: str, text: str, declared_type: str | None) -> Upload:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise _fail("the file is empty (a CSV needs a header row)") from None
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        raise _fail("the header names a column twice", "header", 1)
    rows: dict[str, list[RawRow]] = {}
    file_type = declared_type or type_from_filename(PurePath(name).stem)
    line = reader.line_num
    for values in reader:
        start = line + 1
        line = reader.line_num
        values = [v.strip() for v in values]
        if not any(values):
            continue
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
        rows.setdefault(row_type, []).append(RawRow(start, data))
    return Upload(name, rows)


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
