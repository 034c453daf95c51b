"""Reading an import from an HTTP request: a multipart upload (field ``file``, optional ``type``) or the
raw body (``text/csv`` or ``application/json``, type from ``?type=``).

The body is streamed to a temporary file as it arrives (never held whole in memory) and refused with
413 past ``MAX_BYTES``; parsing, checking and writing then run in a worker thread (``import_upload``),
so a large import does not stall the other requests the event loop serves.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from psabridge.hub.errors import FieldError, ImportFailed
from psabridge.hub.imports.formats import MAX_BYTES, Upload, parse_path

_TOO_LARGE = f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it into several imports."


@asynccontextmanager
async def received_upload(
    request: Request, *, record_type: str | None, file_format: str | None
) -> AsyncIterator[tuple[Path, str, str | None, str | None]]:
    """The uploaded file on disk, with its name, record type and format (deleted afterwards)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    with tempfile.TemporaryDirectory(prefix="psabridge-upload-") as tmp:
        path = Path(tmp) / "upload"
        name = "upload"
        if content_type == "multipart/form-data":
            form = await request.form(max_part_size=MAX_BYTES)
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise ImportFailed("multipart upload needs a 'file' field", [FieldError("file", "missing")])
            form_type = form.get("type")
            record_type = record_type or (form_type if isinstance(form_type, str) else None)
            name = file.filename or "upload"
            await _copy(file, path)
        else:
            size = 0
            with path.open("wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise HTTPException(status_code=413, detail=_TOO_LARGE)
                    out.write(chunk)
            if size == 0 or not _has_content(path):
                raise ImportFailed("the request body is empty", [FieldError("file", "empty body")])
            if file_format is None:
                if "json" in content_type:
                    file_format = "json"
                elif "csv" in content_type:
                    file_format = "csv"
        yield path, name, record_type, file_format


async def _copy(file: UploadFile, path: Path) -> None:
    size = 0
    with path.open("wb") as out:
        while chunk := await file.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_BYTES:
                raise HTTPException(status_code=413, detail=_TOO_LARGE)
            out.write(chunk)


def _has_content(path: Path) -> bool:
    with path.open("rb") as fh:
        while chunk := fh.read(65536):
            if chunk.strip():
                return True
    return False


def parse_received(path: Path, name: str, record_type: str | None, file_format: str | None) -> Upload:
    """The parsed upload (CSV rows are read lazily while the import checks them)."""
    return parse_path(path, name=name, record_type=record_type, file_format=file_format)
