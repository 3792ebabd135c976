"""Health for operators (compose, k8s, dashboards), each with one meaning:

- `/healthz`, liveness: 200 while the process answers. Restart it when this fails.
- `/readyz`, readiness: 200 once this gateway has started (settings read, channels to the
  services open) and until it begins to shut down. A backend's outage is not the gateway's:
  taking every gateway out of rotation for it would turn one failing service into a full
  outage, while the routes that need that service already answer 503 on their own.
- `/health/dependencies`, for people and dashboards: every backend's own health, always 200.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.gateway.dependencies import ClientsDep
from services.gateway.problems import ProblemError, problem_responses
from services.gateway.schemas import DependencyReport, Health, Readiness

router = APIRouter(tags=["operations"])

SERVING = "SERVING"


@router.get("/healthz", response_model=Health, summary="Liveness: 200 while the process lives")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=problem_responses(503),
    summary="Readiness: 200 while this gateway is started and not shutting down",
    description="Does not depend on the backends: see /health/dependencies for them.",
)
async def readyz(request: Request) -> Readiness:
    if not getattr(request.app.state, "ready", False):
        raise ProblemError(503, "not ready: starting or shutting down", slug="not-ready")
    return Readiness()


@router.get(
    "/health/dependencies",
    response_model=DependencyReport,
    summary="Each backend service's health, for operators",
)
async def dependencies(clients: ClientsDep) -> DependencyReport:
    statuses = await clients.health()
    healthy = all(state == SERVING for state in statuses.values())
    return DependencyReport(status="ok" if healthy else "degraded", dependencies=statuses)
