"""The error answers the REST API documents in its OpenAPI, one wording table for every router.

Every error is ``application/problem+json`` (see :mod:`psabridge.web.problems`); a router lists the
status codes it can answer and may say more precisely what one means for it.
"""

from __future__ import annotations

from typing import Any

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}

_MEANING: dict[int, str] = {
    401: "Missing or invalid API token",
    403: "Needs an admin token",
    404: "No such record in this organization",
    409: "Conflict with the current state",
    422: "Invalid input; `errors` names each field",
    502: "Autotask failed or could not be reached; `detail` says what to check",
    503: "Autotask's API limit is reached; retry after `Retry-After`",
}


def problem_responses(*codes: int, **meaning: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for FastAPI routes: each of ``codes`` as problem+json with its meaning (override a
    meaning with ``e409="..."``)."""
    return {code: {"description": meaning.get(f"e{code}", _MEANING[code]), **PROBLEM} for code in codes}
