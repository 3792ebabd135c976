"""Liveness and readiness for operators (compose, k8s)."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway.dependencies import ClientsDep
from services.gateway.problems import ProblemError, problem_responses
from services.gateway.schemas import Health, Readiness

router = APIRouter(tags=["operations"])

SERVING = "SERVING"


@router.get("/healthz", response_model=Health, summary="Liveness: 200 while the process lives")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=problem_responses(503),
    summary="Readiness: 200 only when all four services report SERVING",
)
async def readyz(clients: ClientsDep) -> Readiness:
    statuses = await clients.readiness()
    unready = sorted(name for name, state in statuses.items() if state != SERVING)
    if unready:
        raise ProblemError(
            503,
            f"not ready: {', '.join(unready)} not serving",
            slug="not-ready",
            extensions={"services": statuses},
        )
    return Readiness(services=statuses)
