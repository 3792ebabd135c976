"""The gateway's own per-request work at the HTTP edge, as one ASGI layer.

Three concerns, each with its rule in its own module: the request's trace context
(services.gateway.tracing.TraceContext), the body caps (services.gateway.limits.BodyLimits)
and the security headers (services.gateway.security_headers). They were three middlewares,
each a coroutine frame resumed at every await of the request, its own scope-type test and
its own wrapper; one layer does the same in the same order (benchmarks/README.md, round 8):

1. the trace context is entered first and left last, so everything below, the 413 included,
   runs in the request's trace;
2. the security headers go on every response this layer passes on, the 413s included;
3. a body whose Content-Length passes its cap is refused at once (the app never runs), and
   one that passes it while the app reads it raises inside the app, where its problem
   handlers answer (install_problem_handlers; raised out here it would be a 500).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.limits import BodyLimits
from services.gateway.security_headers import add_security_headers
from services.gateway.tracing import TraceContext


class Edge:
    """`trace_context` is None when OpenTelemetry's instrumentation records server spans
    (tracing.instrument)."""

    def __init__(
        self, app: ASGIApp, *, limits: BodyLimits, trace_context: TraceContext | None
    ) -> None:
        self.app = app
        self.limits = limits
        self.trace_context = trace_context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.limits.limit_for(path)
        # Either the 413 at once, or the app reading the body within its cap.
        app = self.limits.refusal(scope, limit)
        if app is None:
            app, receive = self.app, self.limits.within(receive, limit)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(message, path)
            await send(message)

        trace_context = self.trace_context
        if trace_context is None:
            await app(scope, receive, send_with_headers)
            return
        token, span = trace_context.enter(scope)
        try:
            await app(scope, receive, send_with_headers)
        finally:
            trace_context.leave(token, span)
