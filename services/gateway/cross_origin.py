"""CSRF protection: a state-changing request that a browser sent from another site is refused.

Why an Origin / Fetch Metadata check and not a token: the pages are plain HTML forms with
no JavaScript, and the maintained Starlette middleware (starlette-csrf) expects its token
in a header, which a form cannot send; a form-token library would need a new secret in
every deployment and a token in every template, for no more protection. OWASP's CSRF
cheat sheet accepts checking `Sec-Fetch-Site` (Fetch Metadata) with a fall-back to the
standard `Origin` header as a complete defence; this is the algorithm of Go's
`net/http.CrossOriginProtection` (Go 1.25):

1. safe methods (GET, HEAD, OPTIONS) pass;
2. `Sec-Fetch-Site: same-origin` or `none` (typed by the user) passes, any other value
   (`cross-site`, `same-site`) is refused;
3. without Sec-Fetch-Site, an `Origin` on our public origin (PUBLIC_BASE_URL) or on the
   request's own Host passes, any other (`null` included) is refused;
4. neither header: not a browser (curl, the API clients, Stripe's webhooks) or one too old
   to send them; such a request carries no ambient credentials a third site could borrow.

Bearer-token API calls carry no cookie and no Origin from a non-browser client, so they
keep working; SameSite=lax on the session cookie stays as a second layer.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import Request

from services.common.urls import is_on_origin
from services.gateway.problems import ProblemError
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def is_cross_site(request: Request, public_base_url: str) -> bool:
    """True when a browser sent this state-changing request from another origin."""
    if request.method in _SAFE_METHODS:
        return False
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.strip().lower() not in _ALLOWED_FETCH_SITES
    origin = request.headers.get("origin")
    if origin is None:
        return False
    if is_on_origin(origin, public_base_url):
        return False
    host = request.headers.get("host", "")
    try:
        origin_host = urlsplit(origin).netloc
    except ValueError:
        return True
    return not (host and origin_host.lower() == host.lower())


async def refuse_cross_site(request: Request) -> None:
    """App-wide dependency: 403 (a problem, or an error page for a browser) for a
    cross-site state-changing request."""
    settings: GatewaySettings = request.app.state.settings
    if is_cross_site(request, settings.public_base_url):
        log.warning(
            "refused cross-site %s %s (Origin %r, Sec-Fetch-Site %r)",
            request.method,
            request.url.path,
            request.headers.get("origin"),
            request.headers.get("sec-fetch-site"),
        )
        raise ProblemError(
            403,
            "cross-site request refused: submit this form from the site itself",
            slug="cross-site-request",
        )
