"""Field rules shared by the API schemas and the importer (one definition, so both reject the same input)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer

_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-/]+(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)


def check_phone(value: str) -> str:
    """Accept the phone spellings billing systems export (``+1 (555) 010-2030``, ``020 7946 0018``) with
    7 to 15 digits (E.164's maximum), because Autotask refuses companies without a usable phone."""
    value = value.strip()
    main = re.split(r"(?i)\s*(?:x|ext\.?)\s*[0-9]", value)[0]
    digits = sum(ch.isdigit() for ch in main)
    if not _PHONE_CHARS.match(value) or not 7 <= digits <= 15:
        raise ValueError("not a valid phone number (7-15 digits, optional +, spaces, dashes, parentheses)")
    return value


def _money_text(value: Decimal) -> str:
    """Money as a string with 2-4 decimals: exact (no float), and equal on SQLite and PostgreSQL."""
    q = value.quantize(Decimal("0.0001"))
    text = format(q, "f")
    while text.endswith("0") and len(text.split(".")[1]) > 2:
        text = text[:-1]
    return text


Phone = Annotated[str, AfterValidator(check_phone)]
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=4),
    PlainSerializer(_money_text, return_type=str, when_used="json"),
]
ExternalId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
#: Fields whose text may span lines (every other text field of the hub is one line).
FREE_TEXT_FIELDS = frozenset({"description", "reason"})


# --- ranges: what SQLite/PostgreSQL can store and the sync can plan -----------------------------------
#: Database ids are 32-bit on PostgreSQL (``integer``); a bigger id can match nothing, so it is refused
#: before the query (which would otherwise overflow: a 500 on PostgreSQL, and on SQLite past 64 bits).
MAX_ID = 2**31 - 1
#: Offsets past this are pointless (no organization has a billion records) and overflow SQL bigints later.
MAX_OFFSET = 10**9
#: Dates the billing hub accepts. Autotask and the sync's date arithmetic (contract end dates five years
#: out, billing periods) work in this window; a contract starting 9998-01-01 made every plan fail.
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2200, 12, 31)

DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


def check_date_range(value: date) -> date:
    """Refuse a date outside ``DATE_MIN``..``DATE_MAX`` (the message names the window)."""
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValueError(f"must be between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}")
    return value


HubDate = Annotated[date, AfterValidator(check_date_range)]


# --- text: what is stored is pushed to Autotask and printed on terminals ------------------------------
#: Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069): they make "Acme Ltd" display as
#: something else in Autotask, on the pages and in terminals ("Trojan Source").
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
#: Free-text fields keep line breaks and tabs; names and codes are one line.
MULTILINE_ALLOWED = frozenset("\t\n\r")


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored as text (None when it can): NUL and other control characters
    (escape sequences reach terminals; PostgreSQL refuses NUL), and bidi overrides."""
    for position, char in enumerate(value, start=1):
        if char in BIDI_CONTROLS:
            return (
                f"must not contain the bidirectional control character U+{ord(char):04X} "
                f"(character {position}): it makes the text display differently than it reads"
            )
        if multiline and char in MULTILINE_ALLOWED:
            continue
        if unicodedata.category(char) == "Cc":
            what = "NUL" if char == "\x00" else "control character"
            return f"must not contain a {what} (U+{ord(char):04X}, character {position})"
    return None


def check_line(value: str) -> str:
    """One-line text: names, codes, addresses."""
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_free_text(value: str) -> str:
    """Free text: tabs and line breaks allowed, other control characters not."""
    problem = text_problem(value, multiline=True)
    if problem:
        raise ValueError(problem)
    return value
