"""Reading an import from an HTTP request: a multipart upload (field ``file``, optional ``type``) or the
raw body (``text/csv`` or ``application/json``, type from ``?type=``)."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile

from psabridge.hub.errors import FieldError, ImportFailed
from psabridge.hub.imports.formats import MAX_BYTES, Upload, parse


async def read_upload(request: Request, *, record_type: str | None, file_format: str | None) -> Upload:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_part_size=MAX_BYTES)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise ImportFailed("multipart upload needs a 'file' field", [FieldError("file", "missing")])
        form_type = form.get("type")
        content = await file.read()
        return parse(
            file.filename or "upload",
            content,
            record_type=record_type or (form_type if isinstance(form_type, str) else None),
            file_format=file_format,
        )
    content = await request.body()
    if not content.strip():
        raise ImportFailed("the request body is empty", [FieldError("file", "empty body")])
    if file_format is None:
        if "json" in content_type:
            file_format = "json"
        elif "csv" in content_type:
            file_format = "csv"
    return parse("upload", content, record_type=record_type, file_format=file_format)
