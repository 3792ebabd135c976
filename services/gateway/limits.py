"""Request body caps, enforced before a body is read.

A body larger than its cap is refused with 413 problem+json: at once, from the
Content-Length header, without reading a byte of it; or, for a chunked body (no
Content-Length), as soon as the bytes received pass the cap, without reading the rest.
Starlette's own RequestBodyLimitMiddleware answers in text/plain; every error of ours is
problem+json, hence these small rules (applied by services.gateway.edge.Edge).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope

from services.gateway.problems import ProblemError, problem_response

PAYLOAD_TOO_LARGE = "payload-too-large"
# The rest of the body is never read: the connection cannot carry another request, and
# closing it is what stops the server from draining the unread bytes to keep it alive.
_CLOSE = {"Connection": "close"}


def too_large_detail(limit: int) -> str:
    return f"the request body is larger than this route accepts ({limit} bytes)"


class BodyLimits:
    """Caps every request body at `default_limit` bytes, or at `limits[path]` for the
    paths listed there (exact paths). Applied by services.gateway.edge.Edge: `refusal`
    before the app runs, `within` around the body the app reads."""

    def __init__(self, *, default_limit: int, limits: Mapping[str, int]) -> None:
        self.default_limit = default_limit
        self.limits = dict(limits)

    def limit_for(self, path: str) -> int:
        return self.limits.get(path, self.default_limit)

    @staticmethod
    def refusal(scope: Scope, limit: int) -> ASGIApp | None:
        """The 413 to answer at once when the declared Content-Length passes the cap."""
        declared = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value  # the first, as Headers.get would read it
                break
        # The server already refused a malformed Content-Length; the length test keeps a
        # 5,000-digit one (if any got through) from costing an int() parse.
        if declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
            problem = ProblemError(
                413, too_large_detail(limit), slug=PAYLOAD_TOO_LARGE, headers=_CLOSE
            )
            return problem_response(problem)
        return None

    @staticmethod
    def within(receive: Receive, limit: int) -> Receive:
        """`receive`, refusing a body (chunked, or longer than it declared) as soon as the
        bytes received pass the cap."""
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

        return receive_within_limit
