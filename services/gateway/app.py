"""The gateway application: routers, error handling, static files and tracing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.middleware.sessions import SessionMiddleware

from services.gateway import (
    api_docs,
    pages,
    pages_credentials,
    pages_learning,
    pages_pathways,
    pages_profile,
    pages_sponsors,
    pages_studio,
    pages_studio_consents,
    pages_studio_members,
    pages_studio_pathways,
    pages_team,
    routes_catalog,
    routes_checkout,
    routes_credentials,
    routes_dev,
    routes_earnings,
    routes_employers,
    routes_enrollments,
    routes_health,
    routes_members,
    routes_pathways,
    routes_profiles,
    routes_refunds,
    routes_webhooks,
    signin,
)
from services.gateway.clients import Clients
from services.gateway.dependencies import GUARDS
from services.gateway.edge import Edge
from services.gateway.limits import BodyLimits
from services.gateway.problems import install_problem_handlers
from services.gateway.rendering import STATIC_DIR
from services.gateway.security import Authenticator
from services.gateway.settings import GatewaySettings
from services.gateway.tracing import instrument

API_VERSION = "1.0.0"
# FastAPI's own OpenTelemetry middleware stays off: services.gateway.tracing instruments
# the app (and FastAPI's steps off as soon as that instrumentation is present anyway).
_NO_NATIVE_TELEMETRY = TelemetryConfig(tracing=False, metrics=False, logs=False)


# Every router of the gateway, in the order a request is matched against them: FastAPI
# tries each route in turn (and the winning router's twice), so the routes a purchase takes
# (pay on the checkout, the payment webhook, enroll and its polls) come first. With them
# after 70 other routes, matching was a fifth of the gateway's CPU per request (py-spy at 32
# buyers; benchmarks/README.md, round 4). The order changes nothing else: no request matches
# routes of two routers (tests/unit/test_gateway_route_order.py).
ROUTERS: tuple[APIRouter, ...] = (
    routes_checkout.router,
    routes_webhooks.router,
    routes_enrollments.router,
    routes_health.router,
    routes_dev.router,
    routes_catalog.router,
    routes_pathways.router,
    routes_members.router,
    routes_employers.router,
    routes_credentials.router,
    routes_profiles.router,
    routes_refunds.router,
    routes_earnings.router,
    signin.router,
    pages_sponsors.router,
    pages_learning.router,
    pages_credentials.router,
    pages_profile.router,
    pages_studio.router,
    pages_studio_members.router,
    pages_studio_consents.router,
    pages_studio_pathways.router,
    pages.router,
    pages_pathways.router,
    pages_team.router,
)
# The purchase's routers: each of their routes runs request_guards inside its one
# dependency (GuardedCaller, GuardedViewer, or GUARDS), one dependency solve per request
# fewer than the guards as a dependency of their own (tests/unit/test_gateway_guards.py
# holds that every route runs them, first). Every other router (and api_docs) gets them
# when it is included.
GUARDED_ROUTERS: tuple[APIRouter, ...] = (
    routes_checkout.router,
    routes_webhooks.router,
    routes_enrollments.router,
)


def create_app(settings: GatewaySettings, *, clients: Clients | None = None) -> FastAPI:
    """Build the app. Channels open at start-up unless `clients` is given (tests), and the
    app then leaves closing them to whoever made them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = clients is None
        app.state.clients = Clients.connect(settings) if owned else clients
        renewal = None
        verifier = app.state.authenticator.verifier
        if verifier.fetches_service_token:
            # First token now (the background task retries if the issuer is not up yet).
            renew_in = 0.0
            with contextlib.suppress(httpx.HTTPError, ValueError):
                renew_in = await verifier.fetch_service_token()
            renewal = asyncio.create_task(verifier.keep_service_token_fresh(renew_in))
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            if renewal is not None:
                renewal.cancel()
            if owned:
                await app.state.clients.close()

    app = FastAPI(
        title="Upskill gateway",
        version=API_VERSION,
        summary="HTTP/JSON API of the Upskill micro-credentials marketplace",
        description=(
            "JSON in and out, snake_case, money as {amount_minor, currency}. Every error is"
            " application/problem+json (RFC 9457). Authenticate with"
            " `Authorization: Bearer <JWT>`. Provider staff act for a provider they are a"
            " member of by adding `X-Upskill-Provider: <provider id>`: the services check"
            " the membership; a token never names a provider by itself."
        ),
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served by api_docs, from local assets
        redoc_url=None,
        # CSRF (every state-changing route refuses a browser's cross-site request) and
        # X-Upskill-Provider: request_guards, on every router (below).
        telemetry=_NO_NATIVE_TELEMETRY,
    )
    app.state.settings = settings
    app.state.authenticator = Authenticator(settings.auth)
    app.state.oidc_client = signin.build_client(settings.oidc) if settings.oidc else None
    install_problem_handlers(app)

    for router in ROUTERS:
        # By identity: APIRouter's == compares fields.
        guarded = any(router is g for g in GUARDED_ROUTERS)
        app.include_router(router, dependencies=None if guarded else GUARDS)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    api_docs.install(app, dependencies=GUARDS)
    api_docs.publish_exact_integers(app)
    # The trace context, the body caps and the security headers, as one layer (edge.Edge).
    app.add_middleware(
        Edge,
        limits=BodyLimits(
            default_limit=settings.max_request_bytes,
            limits={routes_webhooks.STRIPE_WEBHOOK_PATH: settings.max_webhook_bytes},
        ),
        trace_context=instrument(app),
    )
    if settings.oidc is not None:
        # The sign-in session: signed (not readable by scripts: HttpOnly), Lax so that the
        # provider's redirect back to us carries it, Secure whenever the site is https.
        # Added after Edge, so it runs outside it: Edge's 413s pass through it, as they did
        # when the body cap was a middleware of its own inside the session's.
        app.add_middleware(
            SessionMiddleware,
            secret_key=settings.oidc.session_secret,
            session_cookie=signin.SESSION_COOKIE_NAME,
            max_age=signin.SESSION_MAX_AGE_SECONDS,
            same_site="lax",
            https_only=settings.public_base_url.startswith("https://"),
        )
    return app
