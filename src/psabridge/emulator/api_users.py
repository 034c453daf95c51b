"""The tenant's API users and Autotask's answers to the three authentication headers.

An Autotask REST call names an API-only resource (UserName), its secret and the tracking identifier
(ApiIntegrationCode) the integration was issued; which header is wrong decides between a 401 with an
empty body and a 500 with an ``errors`` message. Kept apart from the records so that the app's
authentication middleware and the tenant share one reading of those answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ApiUser:
    """An API-only resource of the tenant and the tracking identifier it must present."""

    username: str
    secret: str
    integration_code: str
    resource_id: int = 29682889


@dataclass(frozen=True)
class AuthResult:
    """Who the headers identify, or why not: ``no_user``/``bad_secret`` answer 401 (empty body),
    ``unknown_user``/``bad_code`` answer 500 with an ``errors`` message (apigrate/autotask-restapi#19)."""

    user: ApiUser | None
    failure: Literal["no_user", "unknown_user", "bad_secret", "bad_code"] | None = None


#: Wording of the 500 for an unknown API user / a wrong integration code (invented: not captured publicly).
UNKNOWN_USER_MESSAGE = "Unable to authenticate: the UserName is not an API user of this Autotask database."
BAD_CODE_MESSAGE = "Unable to authenticate: the ApiIntegrationCode is not valid for this API user."


def authenticate(
    users: Sequence[ApiUser], username: str | None, secret: str | None, code: str | None
) -> AuthResult:
    """The API user these headers identify, or the reason they do not (see :class:`AuthResult`).

    Checked in the order apigrate/autotask-restapi#19 reports Autotask's answers: the user name
    (unknown: 500), the secret (wrong: 401), the integration code (wrong: 500)."""
    if not username:
        return AuthResult(None, "no_user")
    user = next((u for u in users if u.username.lower() == username.lower()), None)
    if user is None:
        return AuthResult(None, "unknown_user")
    if secret != user.secret:
        return AuthResult(None, "bad_secret")
    if code != user.integration_code:
        return AuthResult(None, "bad_code")
    return AuthResult(user)
