"""What a service's grpc.health.v1 status means: SERVING while this process can make
progress, that is while its PostgreSQL and its NATS both answer; NOT_SERVING while either
does not, and SERVING again once they are back, without a restart.

Liveness is the process itself: the health service answers `LIVENESS` with SERVING as
soon as the server runs, whatever its dependencies (Kubernetes' liveness and start-up
probes ask for it, so an outage takes replicas out of rotation without restarting them);
readiness is the status of "" and of each gRPC service; which dependency is missing is in
the log line that marks the change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from grpc_health.v1 import health, health_pb2
from nats.aio.client import Client

log = logging.getLogger(__name__)

# How often the dependencies are probed, and how long one probe may take.
CHECK_INTERVAL_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 2.0
NATS_PING_SECONDS = 2  # nats-py takes whole seconds

# The health "service" a liveness probe names; SERVING while the server runs.
LIVENESS = "liveness"

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

Probe = Callable[[], Awaitable[object]]


def postgres_probe(pool: asyncpg.Pool) -> Probe:
    async def probe() -> object:
        return await pool.fetchval("SELECT 1")

    return probe


def nats_probe(nc: Client) -> Probe:
    async def probe() -> object:
        if not nc.is_connected:
            raise ConnectionError("not connected (reconnecting)")
        await nc.flush(timeout=NATS_PING_SECONDS)  # a PING the server answers
        return True

    return probe


class DependencyHealth:
    """Probes each dependency and keeps the health service's status for `names` (the
    server as a whole, "", and each of its gRPC services) in line with them."""

    def __init__(
        self,
        servicer: health.aio.HealthServicer,
        names: Sequence[str],
        probes: dict[str, Probe],
        *,
        interval: float = CHECK_INTERVAL_SECONDS,
        timeout: float = PROBE_TIMEOUT_SECONDS,
        timeouts_before_down: int = 1,
    ) -> None:
        self._servicer = servicer
        self._names = list(names)
        self._probes = probes
        self._interval = interval
        self._timeout = timeout
        self.down: dict[str, str] = {}
        self._status: int | None = None
        # A refused connection is an outage at once; a slow answer may only be a busy
        # process (callers route around NOT_SERVING replicas), so it takes this many in a row.
        self._timeouts_before_down = timeouts_before_down
        self._timeouts: dict[str, int] = {}

    async def _probe(self, name: str, probe: Probe) -> str | None:
        """None when `name` answered, else why not."""
        try:
            async with asyncio.timeout(self._timeout):
                await probe()
        except TimeoutError:
            self._timeouts[name] = self._timeouts.get(name, 0) + 1
            if self._timeouts[name] < self._timeouts_before_down and name not in self.down:
                return None
            return f"no answer within {self._timeout:g}s"
        except Exception as exc:  # any failure to answer is "down"; the reason is logged
            return f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
        self._timeouts.pop(name, None)
        return None

    async def check(self) -> int:
        """Probe every dependency once and publish the resulting status."""
        names = list(self._probes)
        results = await asyncio.gather(*(self._probe(n, self._probes[n]) for n in names))
        down = {n: why for n, why in zip(names, results, strict=True) if why is not None}
        for name, why in down.items():
            if name not in self.down:
                log.warning("dependency %s is unreachable: %s; reporting NOT_SERVING", name, why)
        for name in self.down.keys() - down.keys():
            log.info("dependency %s is reachable again", name)
        self.down = down
        status = NOT_SERVING if down else SERVING
        if status != self._status:
            for service in self._names:
                await self._servicer.set(service, status)
            self._status = status
        return status

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception:  # never let the checker take the process down
                log.exception("dependency health check failed")
