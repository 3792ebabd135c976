"""The API docs page (/docs): Swagger UI from assets we serve ourselves, so that the page
works offline and loads nothing from a CDN. The assets come from the fastapi-offline
package (Swagger UI 5, which renders the OpenAPI 3.1 document FastAPI emits)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/static-docs"
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH, response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - API",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}/static/favicon.svg",
    )


def install(app: FastAPI, dependencies: Sequence[Any] | None = None) -> None:
    """The page, with the app's per-route `dependencies`, and its assets."""
    app.include_router(router, dependencies=dependencies)
    app.mount(ASSETS_PATH, StaticFiles(directory=_ASSETS_DIR), name="docs-assets")


# JSON Schema's numeric bounds, which FastAPI's OpenAPI model holds as floats.
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def publish_exact_integers(app: FastAPI) -> None:
    """The document gives an integer's bounds as integers.

    FastAPI's OpenAPI model types every bound as a float, so `le=1000` was published as
    1000.0 and schemas.INT64_MAX (2**63 - 1024, exact in a double) as
    9.223372036854775e+18: the shortest decimal that reads back as that double, but read
    as a decimal (as schemathesis' coverage phase did) 9223372036854775000, so the document
    admitted 216 amounts the server refuses. Integral bounds of integer schemas are
    published as the integers they are; nothing else in the document changes."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _integral_bounds(build())  # FastAPI keeps what it built as app.openapi_schema
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _integral_bounds(node: Any) -> None:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
            for key in _BOUNDS:
                if isinstance(bound := node.get(key), float) and bound.is_integer():
                    node[key] = int(bound)
        for value in node.values():
            _integral_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _integral_bounds(value)
