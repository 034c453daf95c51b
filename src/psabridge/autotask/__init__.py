"""Autotask REST client (``psabridge.autotask``): typed, budget-aware, thread-safe.

See :mod:`psabridge.autotask.client` for the client, :mod:`~psabridge.autotask.query` for the filter
builder and :mod:`~psabridge.autotask.errors` for the error hierarchy.
"""

from psabridge.autotask.caches import clear_caches
from psabridge.autotask.client import AutotaskClient
from psabridge.autotask.errors import (
    AuthenticationError,
    AutotaskConnectionError,
    AutotaskError,
    AutotaskPermissionError,
    AutotaskServerError,
    AutotaskValidationError,
    BudgetExhausted,
    BudgetExhaustedError,
    InvalidQueryError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ReferenceNotFoundError,
    UnsupportedOperationError,
    ZoneDiscoveryError,
)
from psabridge.autotask.limits import BudgetPolicy, LimitsBackend, LocalLimits
from psabridge.autotask.models import AutotaskCredentials, FieldInfo, PicklistValue, UdfInfo, ZoneInfo
from psabridge.autotask.query import F, Filter
from psabridge.autotask.registry import EntityRegistry, load_registry
from psabridge.autotask.sending import RetryPolicy
from psabridge.config import AUTOTASK_GLOBAL_ZONE_URL

__all__ = [
    "AUTOTASK_GLOBAL_ZONE_URL",
    "AuthenticationError",
    "AutotaskClient",
    "AutotaskConnectionError",
    "AutotaskCredentials",
    "AutotaskError",
    "AutotaskPermissionError",
    "AutotaskServerError",
    "AutotaskValidationError",
    "BudgetExhausted",
    "BudgetExhaustedError",
    "BudgetPolicy",
    "EntityRegistry",
    "F",
    "FieldInfo",
    "Filter",
    "InvalidQueryError",
    "LimitsBackend",
    "LocalLimits",
    "NotFoundError",
    "OutcomeUnknownError",
    "PicklistValue",
    "RateLimitError",
    "ReferenceNotFoundError",
    "RetryPolicy",
    "UdfInfo",
    "UnsupportedOperationError",
    "ZoneDiscoveryError",
    "ZoneInfo",
    "clear_caches",
    "load_registry",
]
