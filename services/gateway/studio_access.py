"""Whether a person sees the header's "Studio" link: provider staff do."""

from __future__ import annotations

import time

from fastapi import Request
from upskill.catalog.v1 import catalog_service_pb2

from services.common.auth import Principal, Role
from services.gateway.clients import Clients, invoke
from services.gateway.problems import ProblemError

# A membership answer is kept this long per person: one catalog call per page otherwise.
STUDIO_LINK_CACHE_SECONDS = 30.0
_STUDIO_LINK_CACHE_LIMIT = 10_000
_STUDIO_LINK_DEADLINE_SECONDS = 2.0


async def studio_link(request: Request, viewer: Principal | None) -> bool:
    """Whether the header shows "Studio": provider tokens, admins, and people who are a
    member of some provider (asked of the catalog, remembered briefly; never an error)."""
    if viewer is None:
        return False
    if viewer.role in (Role.PROVIDER, Role.ADMIN):
        return True
    cache: dict[str, tuple[float, bool]] | None = getattr(
        request.app.state, "studio_link_cache", None
    )
    if cache is None:
        cache = request.app.state.studio_link_cache = {}
    now = time.monotonic()
    known = cache.get(viewer.subject)
    if known is not None and now - known[0] < STUDIO_LINK_CACHE_SECONDS:
        return known[1]
    clients: Clients = request.app.state.clients
    try:
        reply = await invoke(
            clients.catalog.ListMyProviders,
            catalog_service_pb2.ListMyProvidersRequest(),
            token=viewer.token,
            deadline=_STUDIO_LINK_DEADLINE_SECONDS,
        )
    except ProblemError:
        return False
    member = bool(reply.memberships)
    if len(cache) >= _STUDIO_LINK_CACHE_LIMIT:
        cache.clear()
    cache[viewer.subject] = (now, member)
    return member


def forget(request: Request, subject: str) -> None:
    """A person's membership changed (they accepted an invitation): ask again next time."""
    cache = getattr(request.app.state, "studio_link_cache", None)
    if cache is not None:
        cache.pop(subject, None)
