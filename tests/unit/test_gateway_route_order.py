"""The gateway matches a request against its routers in order, and the hot ones come first
(services/gateway/app.py, ROUTERS: route matching was a fifth of the gateway's CPU per
request with the checkout and the webhook after 70 other routes). That order may only ever
be a matter of speed: no request may match routes of two routers, so no order of the
routers can change which route answers."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute, APIRouter

from services.gateway import app as gateway_app

_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
# Sample values a path parameter can take: an id, a word, and a word that looks like the
# literal segments routes use (so /programs/new and /programs/{id} meet).
_SAMPLES = ("0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d", "x", "new")


def _routes(router: APIRouter) -> list[APIRoute]:
    return [route for route in router.routes if isinstance(route, APIRoute)]


def _paths(template: str) -> set[str]:
    """Concrete request paths the template matches, one per sample value."""
    return {_PARAM.sub(sample, template) for sample in _SAMPLES}


def test_every_router_is_listed_once() -> None:
    routers = gateway_app.ROUTERS
    assert len({id(r) for r in routers}) == len(routers)
    assert all(_routes(r) for r in routers), "a router without routes is listed"


def test_no_request_matches_routes_of_two_routers() -> None:
    clashes = []
    routers = gateway_app.ROUTERS
    for i, mine in enumerate(routers):
        for route in _routes(mine):
            for path in _paths(route.path):
                for j, other in enumerate(routers):
                    if i == j:
                        continue
                    for rival in _routes(other):
                        if rival.path_regex.match(path):
                            clashes.append(
                                f"{path}: {route.path} (router {i}) and {rival.path} (router {j})"
                            )
    assert not clashes, "\n".join(clashes)


def test_the_buyers_routes_come_first() -> None:
    """The routes a purchase takes (pay, the webhook, enroll and its polls) are matched
    before any other router's."""
    first = [route.path for router in gateway_app.ROUTERS[:3] for route in _routes(router)]
    for path in (
        "/checkout/{session_id}",
        "/webhooks/stripe",
        "/api/v1/enrollments/{enrollment_id}",
    ):
        assert path in first
