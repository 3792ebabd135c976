"""Which URLs may a learner be sent back to: only ones on our own public origin.

A checkout's success and cancel URLs end in a redirect (the hosted checkout page, Stripe
Checkout); accepting any URI there is an open redirect. The one rule lives here, and both
the service that stores the URLs (payments) and the page that redirects (gateway) apply it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What _origin refuses in a URL: a backslash, whitespace (str.isspace(): `\s` in a str
# pattern is the same set), a control character. One regex search rather than a Python
# test per character (a tenth of the gateway's calls on the checkout's pay); the unit test
# compares the two on every code point.
_REFUSED_CHARACTER = re.compile(r"[\\\s\x00-\x1f\x7f]")


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL with no userinfo, else None.

    Refuses anything a browser might read differently from urlsplit: backslashes (a
    browser reads `\\` as `/` in http URLs), control characters and whitespace (stripped
    or tolerated by browsers), and userinfo (`https://ours@evil.example`)."""
    if not url or _REFUSED_CHARACTER.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or an unbalanced IPv6 bracket
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


@lru_cache(maxsize=8)
def _own_origin(public_base_url: str) -> tuple[str, str, int] | None:
    """_origin of a deployment's PUBLIC_BASE_URL (one per process, in practice), parsed once
    rather than on every check: the checkout's pay made two such checks per request."""
    return _origin(public_base_url)


def is_on_origin(url: str, public_base_url: str) -> bool:
    """True when `url` is an absolute URL on `public_base_url`'s scheme, host and port."""
    ours = _own_origin(public_base_url)
    return ours is not None and _origin(url) == ours


def local_path_or(url: str, public_base_url: str, fallback: str) -> str:
    """`url` when it is on our public origin, else `fallback` (a local path): for a redirect
    or link built from a stored URL, which must never leave the site even if a bad URL was
    stored before the rule existed."""
    return url if is_on_origin(url, public_base_url) else fallback
