"""Field rules shared by the API schemas and the importer (one definition, so both reject the same input)."""

from __future__ import annotations

import re
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
