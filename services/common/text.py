"""What text we accept, anywhere: one rule for the gateway's schema and every service.

Control characters have no business in stored text: PostgreSQL cannot store NUL in a
`text` column (a 5xx waiting to happen), and the other C0 controls (escape, bell,
backspace...) only ever arrive from a bug or an attack on whoever displays the text.
Tab, line feed and carriage return are allowed everywhere because descriptions,
criteria and reasons are multi-line; a single-line field that receives one is merely
odd, not harmful. (Lone UTF-16 surrogates never get this far: the JSON parser and
protobuf refuse them.)
"""

from __future__ import annotations

import re

# An ECMAScript- and Python-compatible pattern: the OpenAPI document publishes it as the
# `pattern` of every text field, so clients (and the contract fuzzer) know the rule.
ALLOWED_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
REFUSED_TEXT_MESSAGE = "must not contain control characters (other than tab and newline)"
# A single line (a name shown on a credential): no control character at all, tab and line
# breaks included.
SINGLE_LINE_TEXT_PATTERN = r"^[^\x00-\x1f]*$"

_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def is_clean(value: str) -> bool:
    """True when `value` holds no refused character."""
    return _REFUSED.search(value) is None
