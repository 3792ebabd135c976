"""The pipeline's HTTP edge (uvicorn + Starlette): the routes the bench's buyers use, each one
gRPC call with tiny JSON, plus the payment webhook. Tokens are the subject itself (no auth).

    uvicorn benchmarks.pipeline.edge:app   # config in env PIPELINE_CONFIG (JSON)
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CONFIG = json.loads(os.environ.get("PIPELINE_CONFIG", "{}"))
channels: dict[str, grpc.aio.Channel] = {}


async def call(service: str, method: str, body: dict[str, Any]) -> dict[str, Any]:
    rpc = channels[service].unary_unary(f"/pipeline/{method}")
    result: dict[str, Any] = json.loads(await rpc(json.dumps(body).encode()))
    return result


async def token(request: Request) -> Response:
    return JSONResponse({"token": (await request.json()).get("sub", "anonymous")})


async def provider(request: Request) -> Response:
    return JSONResponse({"id": str(uuid.uuid4())}, status_code=201)


async def program(request: Request) -> Response:
    return JSONResponse(await call("catalog", "CreateProgram", await request.json()), 201)


async def publish(request: Request) -> Response:
    return JSONResponse({})


async def enroll(request: Request) -> Response:
    learner = request.headers.get("authorization", "").removeprefix("Bearer ")
    program_id = (await request.json())["program_id"]
    body = await call(
        "enrollment", "CreateEnrollment", {"program_id": program_id, "learner": learner}
    )
    body["checkout_url"] = str(request.url_for("checkout", payment_id=body["payment_id"]))
    return JSONResponse(body, status_code=201)


async def checkout(request: Request) -> Response:
    await request.body()  # the card form; not read
    await call("payments", "Pay", {"id": request.path_params["payment_id"]})
    return RedirectResponse("/paid", status_code=303)


async def webhook(request: Request) -> Response:
    await call("payments", "Confirm", await request.json())
    return Response(status_code=204)


async def enrollment(request: Request) -> Response:
    return JSONResponse(await call("enrollment", "Get", {"id": request.path_params["id"]}))


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    for name, target in CONFIG["grpc"].items():
        channels[name] = grpc.aio.insecure_channel(target)
    yield
    for channel in channels.values():
        await channel.close()


app = Starlette(
    routes=[
        Route("/api/v1/dev/tokens", token, methods=["POST"]),
        Route("/api/v1/providers", provider, methods=["POST"]),
        Route("/api/v1/programs", program, methods=["POST"]),
        Route("/api/v1/programs/{id}/publish", publish, methods=["POST"]),
        Route("/api/v1/enrollments", enroll, methods=["POST"]),
        Route("/api/v1/enrollments/{id}", enrollment, methods=["GET"]),
        Route("/checkout/{payment_id}", checkout, methods=["POST"], name="checkout"),
        Route("/webhooks/payments", webhook, methods=["POST"]),
    ],
    lifespan=lifespan,
)
