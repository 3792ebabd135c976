"""`python -m services.gateway`: serve the HTTP gateway until SIGTERM/SIGINT.

Uvicorn drains on a signal: it stops accepting, lets in-flight requests finish (up to
SHUTDOWN_GRACE_SECONDS), then runs the app's shutdown, which closes the gRPC channels.
Uvicorn then re-raises the signal it caught; our handler turns that into a clean exit so
the buffered spans are still flushed.
"""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from services.common.auth import warn_if_dev_mode
from services.common.logs import setup_logging
from services.common.runtime import run_service
from services.common.settings import MissingSettingError
from services.common.telemetry import setup_tracing, shutdown_tracing
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

log = logging.getLogger("services.gateway")

SHUTDOWN_GRACE_SECONDS = 10


def server_config(settings: GatewaySettings, app: ASGIApp) -> uvicorn.Config:
    """How uvicorn serves the app (benchmarks.gateway_calls loads the same config, so that
    it counts the layers uvicorn puts in front of the app)."""
    return uvicorn.Config(
        app,
        host=settings.listen_host,
        port=settings.listen_port,
        log_config=None,  # our JSON-lines logging, with trace ids
        log_level=settings.log_level.lower(),
        # httptools' C parser, not h11's pure-Python one (a sixth of the gateway's CPU per
        # request under the benchmark's polls).
        http="httptools",
        # One JSON line per request costs a tenth of a request's CPU: off unless ACCESS_LOG
        # asks for it (the proxy in front of the gateway usually logs requests already).
        access_log=settings.access_log,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )


async def serve(settings: GatewaySettings) -> None:
    config = server_config(settings, create_app(settings))
    server = uvicorn.Server(config)
    log.info(
        "gateway listening on %s:%s (storefront %s/)",
        settings.listen_host,
        settings.listen_port,
        settings.public_base_url,
    )
    await server.serve()


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    try:
        settings = GatewaySettings.from_env()
    except (MissingSettingError, ValueError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_logging("gateway", settings.log_level)
    warn_if_dev_mode(settings.auth, log)
    setup_tracing("gateway")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    try:
        # On uvloop, as the services (EVENT_LOOP): the gateway's own socket transports and
        # callback scheduling run in C (benchmarks/README.md, round 7).
        run_service(serve(settings))
    finally:
        shutdown_tracing()
        log.info("gateway stopped")


if __name__ == "__main__":
    main()
