"""Request body caps, enforced before a body is read.

A body larger than its cap is refused with 413 problem+json: at once, from the
Content-Length header, without reading a byte of it; or, for a chunked body (no
Content-Length), as soon as the bytes received pass the cap, without reading the rest.
Starlette's own RequestBodyLimitMiddleware answers in text/plain; every error of ours is
problem+json, hence this small middleware.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.problems import ProblemError, problem_response

PAYLOAD_TOO_LARGE = "payload-too-large"
# The rest of the body is never read: the connection cannot carry another request, and
# closing it is what stops the server from draining the unread bytes to keep it alive.
_CLOSE = {"Connection": "close"}


def too_large_detail(limit: int) -> str:
    return f"the request body is larger than this route accepts ({limit} bytes)"


class BodySizeLimit:
    """Caps every request body at `default_limit` bytes, or at `limits[path]` for the
    paths listed there (exact paths)."""

    def __init__(self, app: ASGIApp, *, default_limit: int, limits: Mapping[str, int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default_limit)
        declared = Headers(scope=scope).get("content-length", "")
        # The server already refused a malformed Content-Length; the length test keeps a
        # 5,000-digit one (if any got through) from costing an int() parse.
        if declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
            problem = ProblemError(
                413, too_large_detail(limit), slug=PAYLOAD_TOO_LARGE, headers=_CLOSE
            )
            await problem_response(problem)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException, so FastAPI's body parsing re-raises it as it is
                    # (anything else becomes its generic 400) and the app's handler
                    # renders it as problem+json (problems.install_problem_handlers).
                    raise HTTPException(413, too_large_detail(limit), headers=_CLOSE)
            return message

        await self.app(scope, receive_within_limit, send)
