"""The REST API (``/api/v1``): one router module per resource area, all errors through
:mod:`psabridge.web.problems` (problem+json)."""
