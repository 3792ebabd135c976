"""`Caller` is one dependency that is also the bearer security scheme (FastAPI solves each
dependency of every request on its own; services/gateway/dependencies.py). It used to be a
function depending on `optional_principal` and on an HTTPBearer instance: the OpenAPI
document must be what that form produced, which these tests compare on a small app, then
check across the gateway's own document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials

from services.common.auth import Principal
from services.gateway import dependencies, routes_enrollments
from services.gateway.app import ROUTERS, create_app
from services.gateway.dependencies import (
    Caller,
    guarded_principal,
    optional_principal,
    require_principal,
)
from tests.unit.test_gateway_api import _settings


async def _former_require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
    _: Annotated[
        HTTPAuthorizationCredentials | None,
        Depends(dependencies._bearer_scheme),
    ],
) -> Principal:
    """The three-dependency form `Caller` had before (round 5)."""
    assert principal is not None
    return principal


FormerCaller = Annotated[Principal, Depends(_former_require_principal)]


def _operation_without_names(document: dict[str, Any], path: str) -> dict[str, Any]:
    operation = dict(document["paths"][path]["get"])
    for name in ("operationId", "summary"):
        operation.pop(name, None)
    return operation


def test_the_document_is_the_one_the_former_dependencies_made() -> None:
    former, current = FastAPI(), FastAPI()

    async def former_thing(thing_id: str, caller: FormerCaller) -> str:
        return thing_id

    async def current_thing(thing_id: str, caller: Caller) -> str:
        return thing_id

    # One name for both, as the document derives titles from it.
    former_thing.__name__ = current_thing.__name__ = "thing"
    former.get("/things/{thing_id}")(former_thing)
    current.get("/things/{thing_id}")(current_thing)

    before, after = former.openapi(), current.openapi()
    assert _operation_without_names(after, "/things/{thing_id}") == _operation_without_names(
        before, "/things/{thing_id}"
    )
    assert after["components"]["securitySchemes"] == before["components"]["securitySchemes"]
    assert after["paths"]["/things/{thing_id}"]["get"]["security"] == [{"HTTPBearer": []}]


def _needs_a_caller(dependant: Dependant) -> bool:
    return any(
        sub.call in (require_principal, guarded_principal) or _needs_a_caller(sub)
        for sub in dependant.dependencies
    )


def test_every_route_with_a_caller_documents_the_bearer_scheme() -> None:
    app = create_app(_settings())
    document = app.openapi()
    assert document["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "description": dependencies._BEARER_DESCRIPTION,
            "scheme": "bearer",
        }
    }
    checked = 0
    for route in (r for router in ROUTERS for r in router.routes):
        if not (isinstance(route, APIRoute) and route.include_in_schema):
            continue
        if not _needs_a_caller(route.dependant):
            continue
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            assert operation["security"] == [{"HTTPBearer": []}], (method, route.path)
            # The dependency reads the request itself: it adds no parameter.
            names = {p["name"] for p in operation.get("parameters", [])}
            assert not names & {"request", "authorization", "Authorization"}, route.path
            checked += 1
    assert checked > 40


def test_a_caller_is_one_dependency_solve() -> None:
    (route,) = (
        r
        for r in routes_enrollments.router.routes
        if isinstance(r, APIRoute)
        and r.path == "/api/v1/enrollments/{enrollment_id}"
        and "GET" in (r.methods or ())
    )
    # The purchase's routes take the app's guards in the same dependency (GuardedCaller).
    (caller,) = route.dependant.dependencies
    assert caller.call is guarded_principal
    assert caller.dependencies == []
