"""What makes a password acceptable: one rule for the CLI, the Users tab and "Change password".

No maintained password-strength library is among the locked dependencies, so the rule is explicit and
short enough to show in an error message: at least 12 characters; not one character repeated; not the
e-mail address's local part (or containing it); not a common password, even with digits or symbols
appended ("Password2024!" is "password"). The list below is a small, well-known core, not a breach
corpus: length does most of the work.
"""

from __future__ import annotations

import re

MIN_LENGTH = 12

#: Words that head every list of leaked passwords; compared after lower-casing and stripping trailing
#: digits and symbols.
COMMON_WORDS = frozenset(
    {
        "password", "passw0rd", "p@ssw0rd", "p@ssword", "qwerty", "qwertyuiop", "qwertyuiopasdf", "asdfgh",
        "asdfghjkl", "zxcvbnm", "letmein", "welcome", "admin", "administrator", "iloveyou", "monkey",
        "dragon", "football", "baseball", "sunshine", "princess", "superman", "batman", "trustno", "master",
        "shadow", "michael", "jennifer", "starwars", "whatever", "changeme", "secret", "abc", "abcdef",
        "abcdefgh", "abcdefghijkl", "login", "hello", "freedom", "default", "access", "mustang", "charlie",
        "passwordpassword", "qwertyqwerty", "azerty", "1q2w3e4r", "1qaz2wsx", "zaq1zaq1", "qazwsx",
        "summer", "winter", "spring", "autumn", "company", "autotask", "psabridge", "changeit", "test",
        "testtest", "guest", "root", "toor", "user", "demo",
    }
)  # fmt: skip

_TRAILING = re.compile(r"[\d\W_]+$")
_SEQUENCES = ("0123456789012345678901234567890", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm")


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why ``password`` is refused (None when it is fine); the message completes "Password ..."."""
    if len(password) < MIN_LENGTH:
        return f"must have at least {MIN_LENGTH} characters"
    if len(set(password)) == 1:
        return "must not be one character repeated"
    lowered = password.lower()
    local = (email or "").partition("@")[0].lower()
    if len(local) >= 3 and local in lowered:
        return "must not contain your e-mail address's name"
    base = _TRAILING.sub("", lowered)
    if not base or base in COMMON_WORDS or any(lowered in seq for seq in _SEQUENCES):
        return "is too common (a well-known password, sequence or word with digits added): choose another"
    return None
