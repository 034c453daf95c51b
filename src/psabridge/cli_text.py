"""Record text on the terminal: always plain text, never Rich markup and never raw escape sequences.

Names, labels and reasons come from billing data and from Autotask. Printed through Rich as they are,
``Acme [/bold] Ltd`` is markup (and crashes the print), and an ESC in a name drives the terminal. Every
command prints such text through :func:`plain` (a ``Text``, which Rich never parses) or :func:`safe`
(for f-strings handed to ``console.print``), with control and bidi characters shown as ``\\x1b``-style
escapes.
"""

from __future__ import annotations

import unicodedata

from rich.markup import escape
from rich.text import Text

from psabridge.hub.validation import BIDI_CONTROLS


def visible(value: object) -> str:
    """``value`` as a string with control and bidi characters written as visible escapes."""
    out = []
    for char in str(value):
        if char in BIDI_CONTROLS or (unicodedata.category(char) == "Cc" and char not in "\t"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def plain(value: object, style: str = "") -> Text:
    """Record text for a Rich table cell or print: not parsed as markup, escapes made visible."""
    return Text(visible(value), style=style)


def safe(value: object) -> str:
    """Record text to put inside a markup string (``console.print(f"… {safe(name)} …")``)."""
    return escape(visible(value))
