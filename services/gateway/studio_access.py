"""Whether a person sees the header's "Studio" link (provider staff do) and its "Team"
link (members of an employer do). Each answer is asked of the service that owns the
membership and remembered briefly per person; never an error."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from upskill.catalog.v1 import catalog_service_pb2
from upskill.enrollment.v1 import employers_service_pb2

from services.common.auth import Principal, Role
from services.gateway.clients import Clients, invoke
from services.gateway.problems import ProblemError

# A membership answer is kept this long per person: one call per page otherwise.
STUDIO_LINK_CACHE_SECONDS = 30.0
_STUDIO_LINK_CACHE_LIMIT = 10_000
_STUDIO_LINK_DEADLINE_SECONDS = 2.0
_CACHES = ("studio_link_cache", "team_link_cache")


async def _remembered(
    request: Request,
    viewer: Principal,
    cache_name: str,
    ask: Callable[[Clients], Awaitable[bool]],
) -> bool:
    cache: dict[str, tuple[float, bool]] | None = getattr(request.app.state, cache_name, None)
    if cache is None:
        cache = {}
        setattr(request.app.state, cache_name, cache)
    now = time.monotonic()
    known = cache.get(viewer.subject)
    if known is not None and now - known[0] < STUDIO_LINK_CACHE_SECONDS:
        return known[1]
    try:
        member = await ask(request.app.state.clients)
    except ProblemError:
        return False
    if len(cache) >= _STUDIO_LINK_CACHE_LIMIT:
        cache.clear()
    cache[viewer.subject] = (now, member)
    return member


async def studio_link(request: Request, viewer: Principal | None) -> bool:
    """Whether the header shows "Studio": provider tokens, admins, and people who are a
    member of some provider (asked of the catalog)."""
    if viewer is None:
        return False
    if viewer.role in (Role.PROVIDER, Role.ADMIN):
        return True

    async def ask(clients: Clients) -> bool:
        reply = await invoke(
            clients.catalog.ListMyProviders,
            catalog_service_pb2.ListMyProvidersRequest(),
            token=viewer.token,
            deadline=_STUDIO_LINK_DEADLINE_SECONDS,
        )
        return bool(reply.memberships)

    return await _remembered(request, viewer, "studio_link_cache", ask)


async def team_link(request: Request, viewer: Principal | None) -> bool:
    """Whether the header shows "Team": people who own or manage an employer (asked of
    the enrollment service, which owns employers)."""
    if viewer is None or viewer.role not in (Role.LEARNER, Role.ADMIN):
        return False

    async def ask(clients: Clients) -> bool:
        reply = await invoke(
            clients.employers.ListEmployers,
            employers_service_pb2.ListEmployersRequest(page_size=1),
            token=viewer.token,
            deadline=_STUDIO_LINK_DEADLINE_SECONDS,
        )
        return bool(reply.employers)

    return await _remembered(request, viewer, "team_link_cache", ask)


def forget(request: Request, subject: str) -> None:
    """A person's memberships changed (they accepted an invitation, created an employer):
    ask again next time."""
    for name in _CACHES:
        cache = getattr(request.app.state, name, None)
        if cache is not None:
            cache.pop(subject, None)
