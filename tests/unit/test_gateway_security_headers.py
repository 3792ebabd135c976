"""The security headers every gateway response carries (services.gateway.security_headers,
applied by services.gateway.edge.Edge): nosniff everywhere, and on HTML pages (but Swagger
UI's) no framing, same-origin referrers and our content security policy. A header the
response sets itself is kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.testclient import TestClient
from starlette.datastructures import MutableHeaders

from services.gateway import api_docs
from services.gateway.app import create_app
from services.gateway.edge import Edge
from services.gateway.limits import BodyLimits
from services.gateway.problems import install_problem_handlers
from services.gateway.security_headers import add_security_headers
from tests.unit.test_gateway_api import _settings

CSP = (
    "default-src 'self'; style-src 'self'; form-action 'self' http: https:; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": CSP,
}


def _with_mutable_headers(message: dict[str, Any], path: str) -> None:
    """The rule as the SecurityHeaders middleware wrote it with Starlette's MutableHeaders
    before round 8 (benchmarks/README.md): the reference for add_security_headers."""
    headers = MutableHeaders(scope=message)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    is_page = headers.get("content-type", "").startswith("text/html")
    if is_page and path != api_docs.DOCS_PATH:
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Content-Security-Policy", CSP)


@pytest.mark.parametrize("path", ["/", "/learning", api_docs.DOCS_PATH, "/api/v1/enrollments"])
@pytest.mark.parametrize(
    "raw",
    [
        [],
        [(b"content-type", b"application/json"), (b"content-length", b"2")],
        [(b"content-type", b"text/html; charset=utf-8")],
        [(b"content-type", b"TEXT/HTML")],
        [(b"content-type", b"text/html"), (b"x-frame-options", b"SAMEORIGIN")],
        [(b"content-type", b"text/html"), (b"content-security-policy", b"default-src *")],
        [(b"x-content-type-options", b"other"), (b"content-type", b"text/plain")],
        [(b"content-type", b"text/plain"), (b"content-type", b"text/html")],
        [(b"set-cookie", b"a=1"), (b"content-type", b"text/html"), (b"set-cookie", b"b=2")],
    ],
)
def test_the_same_headers_as_with_mutable_headers(path: str, raw: list[Any]) -> None:
    ours = {"type": "http.response.start", "status": 200, "headers": tuple(raw)}
    reference = {"type": "http.response.start", "status": 200, "headers": tuple(raw)}
    add_security_headers(ours, path)
    _with_mutable_headers(reference, path)
    assert ours == reference


def test_a_start_message_without_headers_gets_them() -> None:
    message: dict[str, Any] = {"type": "http.response.start", "status": 204}
    add_security_headers(message, "/")
    assert message["headers"] == [(b"x-content-type-options", b"nosniff")]


def _edge_app() -> FastAPI:
    app = FastAPI()

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<p>hi</p>"

    @app.get("/framed")
    async def framed() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>", headers={"X-Frame-Options": "SAMEORIGIN"})

    @app.get("/data")
    async def data() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.post("/upload")
    async def upload(body: dict[str, Any]) -> dict[str, Any]:
        return body

    install_problem_handlers(app)
    app.add_middleware(Edge, limits=BodyLimits(default_limit=64, limits={}), trace_context=None)
    return app


@pytest.fixture(scope="module")
def edge() -> Iterator[TestClient]:
    with TestClient(_edge_app()) as client:
        yield client


def _ours(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k in PAGE_HEADERS}


def test_a_page_gets_all_four(edge: TestClient) -> None:
    assert _ours(edge.get("/page")) == PAGE_HEADERS


def test_a_header_the_page_sets_is_kept(edge: TestClient) -> None:
    assert _ours(edge.get("/framed")) == PAGE_HEADERS | {"x-frame-options": "SAMEORIGIN"}


@pytest.mark.parametrize("path", ["/data", "/text", "/nowhere"])
def test_anything_else_gets_nosniff_only(edge: TestClient, path: str) -> None:
    assert _ours(edge.get(path)) == {"x-content-type-options": "nosniff"}


def test_the_413s_get_them_too(edge: TestClient) -> None:
    declared = edge.post("/upload", content=b"{}", headers={"content-length": "65"})
    assert declared.status_code == 413
    assert declared.headers["connection"] == "close"

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while read
        yield b'{"a": "' + b"x" * 60
        yield b'"}'

    read = edge.post("/upload", content=chunks(), headers={"content-type": "application/json"})
    assert read.status_code == 413
    for response in (declared, read):
        assert response.headers["content-type"] == "application/problem+json"
        assert _ours(response) == {"x-content-type-options": "nosniff"}


def test_the_gateway_applies_them() -> None:
    with TestClient(create_app(_settings())) as client:
        docs = client.get(api_docs.DOCS_PATH)
        health = client.get("/healthz")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    # Swagger UI starts itself with an inline script: none of the page headers there.
    assert _ours(docs) == {"x-content-type-options": "nosniff"}
    assert _ours(health) == {"x-content-type-options": "nosniff"}
