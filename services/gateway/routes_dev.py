"""Development-only routes: mint a signed token for any role (AUTH_MODE=dev)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from services.gateway.dependencies import AuthenticatorDep
from services.gateway.problems import not_found, problem_responses
from services.gateway.schemas import DevToken, DevTokenRequest
from services.gateway.security import DEV_TOKEN_TTL_SECONDS

router = APIRouter(prefix="/api/v1/dev", tags=["development"])


async def require_dev_mode(authenticator: AuthenticatorDep) -> None:
    """404, before the body is even read, unless AUTH_MODE=dev."""
    if not authenticator.dev_mode:
        raise not_found("dev tokens exist only in AUTH_MODE=dev")


@router.post(
    "/tokens",
    response_model=DevToken,
    dependencies=[Depends(require_dev_mode)],
    responses=problem_responses(400, 404, 413, 422),
    summary="Mint a development token (only when AUTH_MODE=dev; 404 otherwise)",
)
async def create_dev_token(body: DevTokenRequest, authenticator: AuthenticatorDep) -> DevToken:
    token = authenticator.mint_dev_token(
        role=body.role,
        subject=body.sub,
        email=body.email or "",
        provider_id=body.provider_id or "",
    )
    return DevToken(token=token, expires_in=DEV_TOKEN_TTL_SECONDS)
