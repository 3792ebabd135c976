"""RFC 9457 problem details: the one shape every gateway error takes.

API routes always answer `application/problem+json`; a person's browser asking for an
HTML page gets the same status rendered as a page (see `wants_html`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# A problem lists at most this many field errors (and says how many it left out): a
# request with 100,000 bad fields must not cost a 100,000-entry answer.
MAX_FIELD_ERRORS = 20
# Request headers that carry a precondition: missing is 428 (RFC 6585), not 422.
PRECONDITION_HEADERS = frozenset({"If-Match"})

# Paths that are machine interfaces: never answered with an HTML error page.
_MACHINE_PREFIXES = (
    "/api/",
    "/webhooks/",
    "/.well-known/",
    "/status-lists/",
    "/keys/",
    "/ims/",
    "/healthz",
    "/readyz",
    "/health/",
    "/openapi.json",
    "/static/",
)


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending input, e.g. price.currency")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="URI naming the kind of problem", examples=["urn:upskill:problem:not-found"]
    )
    title: str = Field(description="Short summary of the kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong this time, for a person")
    errors: list[FieldError] | None = Field(
        default=None,
        max_length=MAX_FIELD_ERRORS,
        description=f"Per-field problems, for invalid input (the first {MAX_FIELD_ERRORS})",
    )
    errors_omitted: int | None = Field(
        default=None, ge=1, description="How many more field errors were not listed"
    )


def problem_type(slug: str) -> str:
    return f"urn:upskill:problem:{slug}"


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
        grpc_code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = problem_type(slug) if slug else "about:blank"
        self.title = title or HTTPStatus(status).phrase
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})
        # The gRPC status name this problem came from, when it came from one.
        self.grpc_code = grpc_code

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [e.model_dump() for e in self.errors[:MAX_FIELD_ERRORS]]
            if len(self.errors) > MAX_FIELD_ERRORS:
                body["errors_omitted"] = len(self.errors) - MAX_FIELD_ERRORS
        body.update(self.extensions)
        return body


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, detail, slug="not-found")


def unauthenticated(detail: str) -> ProblemError:
    return ProblemError(
        401, detail, slug="unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="upskill"'}
    )


def invalid_input(
    detail: str, errors: Sequence[FieldError] = (), status: int = 400
) -> ProblemError:
    return ProblemError(status, detail, slug="invalid-input", errors=errors)


def problem_response(problem: ProblemError) -> JSONResponse:
    return JSONResponse(
        problem.document(),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem+json answers."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


def wants_html(request: Request) -> bool:
    """A person's browser asking for a page, as opposed to an API client."""
    if request.url.path.startswith(_MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def field_path(location: Sequence[int | str]) -> str:
    """('body', 'price', 'currency') -> 'price.currency'; ('body', 'skills', 0) -> 'skills[0]'."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source, parts = parts[0], parts[1:]
        if not parts:
            return str(source)
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _validation_problem(exc: RequestValidationError) -> ProblemError:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return ProblemError(400, "the request body is not valid JSON", slug="malformed-json")
    for error in errors:
        location = tuple(error.get("loc", ()))
        missing_header = error.get("type") == "missing" and location[:1] == ("header",)
        if missing_header and location[-1] in PRECONDITION_HEADERS:
            return ProblemError(
                428,
                f"this request needs an {location[-1]} header with the version last read"
                " (the ETag)",
                slug="precondition-required",
            )
    # Only the listed errors are rendered: a body of a million bad keys costs no more.
    field_errors = [
        FieldError(field=field_path(error.get("loc", ())), message=_clean(error.get("msg", "")))
        for error in errors[:MAX_FIELD_ERRORS]
    ]
    problem = invalid_input("the request has invalid fields", field_errors, status=422)
    if len(errors) > MAX_FIELD_ERRORS:
        problem.extensions["errors_omitted"] = len(errors) - MAX_FIELD_ERRORS
    return problem


def _clean(message: str) -> str:
    # pydantic prefixes messages raised from validators; the prefix helps nobody.
    return message.removeprefix("Value error, ")


async def _render(request: Request, problem: ProblemError) -> Response:
    if wants_html(request):
        from services.gateway.dependencies import page_viewer
        from services.gateway.rendering import render_problem

        if not hasattr(request.state, "viewer"):
            # An error raised before the route looked at the session (a 404 route, a bad
            # form) still shows the signed-in header.
            try:
                await page_viewer(request)
            except Exception:  # the error page must render whatever the session holds
                request.state.viewer = None
        return render_problem(request, problem)
    return problem_response(problem)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return await _render(request, exc)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.method} {request.url.path}"
        slug = "payload-too-large" if exc.status_code == 413 else None
        problem = ProblemError(exc.status_code, detail, slug=slug, headers=exc.headers)
        return await _render(request, problem)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return await _render(request, _validation_problem(exc))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = ProblemError(500, "the gateway failed to handle this request", slug="internal")
        return await _render(request, problem)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
