"""Logging set-up: plain text, or one JSON object per line (``PSABRIDGE_LOG_FORMAT=json``) for log
collectors. Secrets never reach a log line: the code logs no credentials (secrets are ``SecretStr``),
and the formatter also masks anything that looks like one (URL passwords, ``secret=…``, bearer tokens).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_MASKS = (
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+@"), r"\1***@"),  # user:password@host
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"(?i)\b(secret|password|passwd|token|api_?key)(\s*[=:]\s*)([^\s,;&\"']+)"), r"\1\2***"),
)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def mask(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``***``."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, exception and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = (
                    value if isinstance(value, int | float | bool) or value is None else mask(str(value))
                )
        if record.exc_info:
            data["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class MaskingFormatter(logging.Formatter):
    """The plain text format, masked like the JSON one."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Route the root logger (and uvicorn's, dramatiq's) to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "dramatiq"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # APScheduler says "Running job ..." at every scheduler tick
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
