"""The security headers every response of the gateway carries (applied by
services.gateway.edge.Edge to each response's start message)."""

from __future__ import annotations

from starlette.types import Message

from services.gateway import api_docs

_NOSNIFF = (b"x-content-type-options", b"nosniff")
# On HTML pages only: no framing, no referrer to other sites, and only our own scripts,
# styles and form targets.
_PAGE_ONLY = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; style-src 'self'; form-action 'self' http: https:;"
        b" frame-ancestors 'none'",
    ),
)
_OURS = frozenset(name for name, _ in (_NOSNIFF, *_PAGE_ONLY))


def add_security_headers(message: Message, path: str) -> None:
    """Adds each header a response start `message` does not set itself (as
    MutableHeaders.setdefault: names compared as the ASGI server got them, lower case).
    One pass over the raw list: MutableHeaders' setdefault and get were a dozen Python calls
    per response (benchmarks/README.md, round 8)."""
    headers = message["headers"] = list(message.get("headers", ()))
    present: set[bytes] = set()
    content_type = None
    for name, value in headers:
        if name in _OURS:
            present.add(name)
        elif content_type is None and name == b"content-type":
            content_type = value
    if _NOSNIFF[0] not in present:
        headers.append(_NOSNIFF)
    # /docs is Swagger UI, whose page starts it with an inline script: no CSP there (its
    # assets are ours, see api_docs).
    is_page = content_type is not None and content_type.startswith(b"text/html")
    if is_page and path != api_docs.DOCS_PATH:
        for header in _PAGE_ONLY:
            if header[0] not in present:
                headers.append(header)
