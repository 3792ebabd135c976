"""A public profile's handle, its address (/u/{handle}): the rule, once, for the
credentials service that enforces it and the gateway whose OpenAPI document states it."""

from __future__ import annotations

import re
from typing import Any

MIN_HANDLE = 3
MAX_HANDLE = 30
HANDLE_RULE = (
    f"{MIN_HANDLE} to {MAX_HANDLE} lowercase letters (a-z), digits and single hyphens,"
    " starting and ending with a letter or digit"
)
# As stored: lowercase (a handle is sent in any case and stored lowercased).
HANDLE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# What a client may send, as JSON Schema: empty (releases the handle), or the rule in any
# case. Only the reserved words (public_profiles.RESERVED_HANDLES) are left to the service.
SENT_HANDLE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"maxLength": 0},
        {
            "minLength": MIN_HANDLE,
            "maxLength": MAX_HANDLE,
            "pattern": r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$",
        },
    ]
}
