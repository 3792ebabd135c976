"""gRPC health probes: `python -m services.common.healthcheck` is the container health
check (the local server, on LISTEN_ADDR's port); `check` serves the dev supervisor too."""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common import settings


def check(addr: str, timeout: float = 2.0, *, service: str = "") -> str | None:
    """None when the gRPC server at `addr` reports SERVING for `service` (default "", the
    server's readiness), else what is wrong."""
    with grpc.insecure_channel(addr) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as exc:
            return f"gRPC health: {exc.code().name}"
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        return f"gRPC health: {health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)}"
    return None


def main() -> int:
    port = settings.optional("LISTEN_ADDR", "0.0.0.0:50051").rsplit(":", 1)[1]
    problem = check(f"127.0.0.1:{port}")
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
