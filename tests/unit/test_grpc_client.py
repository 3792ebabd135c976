"""A peer with several replicas gets calls on all of them: the channel balances over every
address its target resolves to (a headless Kubernetes Service gives one per ready pod)
instead of pinning a caller to the first."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common.grpc_client import channel


class CountingHealth(health.aio.HealthServicer):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        self.calls += 1
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def test_calls_are_spread_over_every_resolved_address() -> None:
    servers, servicers, ports = [], [], []
    for _ in range(2):
        server = grpc.aio.server()
        servicer = CountingHealth()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        ports.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        servers.append(server)
        servicers.append(servicer)
    # One target, two addresses: what a DNS name with two A records resolves to.
    target = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports)
    ch = channel(target)
    try:
        stub = health_pb2_grpc.HealthStub(ch)
        # Bounded by count, not time: the second connection may become ready a few calls
        # after the first (pinned to one address, 200 calls would all go there).
        for _ in range(200):
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5, wait_for_ready=True)
            if all(s.calls > 0 for s in servicers):
                break
    finally:
        await ch.close()
        for server in servers:
            await server.stop(None)
    assert all(s.calls > 0 for s in servicers), [s.calls for s in servicers]
