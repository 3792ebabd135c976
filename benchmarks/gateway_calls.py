"""`python -m benchmarks.gateway_calls`: Python function calls the gateway makes per request
on the purchase's hot routes, counted in-process with cProfile (load-independent, unlike any
timing on a shared machine).

The gateway app runs in this process on asyncio's loop, its channels pointed at fake
enrollment and payments services served from a second thread (whose calls cProfile does not
see: it profiles the calling thread only). Each route is called N times straight through
ASGI (no HTTP parsing, no sockets), after a warm-up, through the layers uvicorn puts in
front of the app as the gateway configures it (services.gateway.__main__.server_config).

The first figure counts every call; the second leaves out the event loop's own (asyncio's
scheduling and its select, and the builtins they call), whose count moves with how the fake
services' replies happen to interleave (+-15 calls a request from run to run): the second
is the same from run to run, the figure to compare changes by.

    python -m benchmarks.gateway_calls --requests 500
    python -m benchmarks.gateway_calls --top 40 --route get   # the heaviest functions
    python -m benchmarks.gateway_calls --cpu 5 --route pay    # and CPU-us per request

`--cpu N` also times N rounds of the requests without the profiler: the CPU time of this
thread (the gateway's event loop; the fake services' thread is not counted) per request,
the median round. Timings move with the machine's load: compare two trees by alternating
runs of each, not one run against another.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import threading
import time
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any

import grpc
from upskill.enrollment.v1 import (
    enrollment_pb2,
    enrollment_service_pb2,
    enrollment_service_pb2_grpc,
)
from upskill.payments.v1 import payments_pb2, payments_service_pb2, payments_service_pb2_grpc
from upskill.type.v1 import money_pb2

from services.common.auth import DEV_ISSUER, AuthSettings, mint_dev_token
from services.common.grpc_client import channel
from services.common.telemetry import setup_tracing
from services.gateway.__main__ import server_config
from services.gateway.app import create_app
from services.gateway.clients import Clients
from services.gateway.settings import GatewaySettings

SECRET = "bench-" * 8
ENROLLMENT_ID = str(uuid.uuid4())
PROGRAM_ID = str(uuid.uuid4())
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _enrollment() -> enrollment_pb2.Enrollment:
    enrollment = enrollment_pb2.Enrollment(
        id=ENROLLMENT_ID,
        learner_id="learner-1",
        status=enrollment_pb2.EnrollmentStatus.ENROLLMENT_STATUS_PENDING_PAYMENT,
        payment_id=str(uuid.uuid4()),
        checkout_url="http://testserver/checkout/cs_abc",
    )
    enrollment.program.program_id = PROGRAM_ID
    enrollment.program.provider_id = str(uuid.uuid4())
    enrollment.program.title = "SQL in a week"
    enrollment.program.price.CopyFrom(money_pb2.Money(amount_minor=4900, currency="USD"))
    enrollment.create_time.GetCurrentTime()
    enrollment.update_time.GetCurrentTime()
    return enrollment


class _Enrollment(enrollment_service_pb2_grpc.EnrollmentServiceServicer):
    async def GetEnrollment(self, request: Any, context: Any) -> Any:
        return enrollment_service_pb2.GetEnrollmentResponse(enrollment=_enrollment())

    async def CreateEnrollment(self, request: Any, context: Any) -> Any:
        return enrollment_service_pb2.CreateEnrollmentResponse(enrollment=_enrollment())


class _Payments(payments_service_pb2_grpc.PaymentsServiceServicer):
    async def PayCheckoutSession(self, request: Any, context: Any) -> Any:
        session = payments_pb2.CheckoutSession(
            id=request.session_id, success_url="http://testserver/learning"
        )
        return payments_service_pb2.PayCheckoutSessionResponse(session=session)

    async def HandleProviderWebhook(self, request: Any, context: Any) -> Any:
        return payments_service_pb2.HandleProviderWebhookResponse(event_id="evt_1")


def _serve(ready: threading.Event, port: list[int], stop: list[Callable[[], None]]) -> None:
    async def main() -> None:
        server = grpc.aio.server()
        enrollment_service_pb2_grpc.add_EnrollmentServiceServicer_to_server(_Enrollment(), server)
        payments_service_pb2_grpc.add_PaymentsServiceServicer_to_server(_Payments(), server)
        port.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        done = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stopping() -> None:
            loop.call_soon_threadsafe(done.set)

        stop.append(stopping)
        ready.set()
        await done.wait()
        await server.stop(None)

    asyncio.run(main())


async def _call(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent = [False]

    async def receive() -> dict[str, Any]:
        if sent[0]:
            await asyncio.Event().wait()
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = [0]
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status[0], b"".join(chunks)


def _routes(token: str) -> dict[str, tuple[str, str, dict[str, str], bytes, int]]:
    bearer = {"authorization": f"Bearer {token}", "traceparent": TRACEPARENT}
    json_body = {**bearer, "content-type": "application/json"}
    return {
        "get": ("GET", f"/api/v1/enrollments/{ENROLLMENT_ID}", bearer, b"", 200),
        "enroll": (
            "POST",
            "/api/v1/enrollments",
            json_body,
            f'{{"program_id": "{PROGRAM_ID}"}}'.encode(),
            201,
        ),
        "pay": (
            "POST",
            "/checkout/cs_bench_1",
            {"content-type": "application/x-www-form-urlencoded", "traceparent": TRACEPARENT},
            b"card_number=4242+4242+4242+4242",
            303,
        ),
        "webhook": (
            "POST",
            "/webhooks/stripe",
            {
                "content-type": "application/json",
                "stripe-signature": "t=1,v1=abc",
                "traceparent": TRACEPARENT,
            },
            b'{"id": "evt_1", "type": "checkout.session.completed"}',
            200,
        ),
    }


# The event loop's own machinery: its calls depend on timing, not on the gateway's code.
_LOOP_FILES = ("/asyncio/", "/selectors.py")


def _outside_the_loop(stats: dict[Any, Any]) -> int:
    """Calls made by anything but the event loop: its Python functions left out, and a
    builtin (file "~") counted only when called from outside it."""

    def loop(file: str) -> bool:
        return any(part in file for part in _LOOP_FILES)

    calls = 0
    for (file, _, _), (_, count, _, _, callers) in stats.items():
        if file == "~":
            calls += sum(row[1] for (caller, _, _), row in callers.items() if not loop(caller))
        elif not loop(file):
            calls += count
    return calls


async def measure(
    requests: int, only: str | None, top: int, cpu_rounds: int = 0
) -> dict[str, tuple[float, float, float | None]]:
    ready, port, stop = threading.Event(), [], []  # type: ignore[var-annotated]
    thread = threading.Thread(target=_serve, args=(ready, port, stop), daemon=True)
    thread.start()
    ready.wait()
    addr = f"127.0.0.1:{port[0]}"
    settings = GatewaySettings(
        listen_host="127.0.0.1",
        listen_port=8080,
        catalog_addr=addr,
        enrollment_addr=addr,
        payments_addr=addr,
        credentials_addr=addr,
        auth=AuthSettings("dev", SECRET, "", DEV_ISSUER, ""),
        public_base_url="http://testserver",
    )
    clients = Clients({name: channel(a, traced=False) for name, a in settings.peers.items()})
    app = create_app(settings, clients=clients)
    config = server_config(settings, app)
    config.load()
    served = config.loaded_app  # what uvicorn calls per request
    token = mint_dev_token(SECRET, role="learner", subject="learner-1")
    per_request: dict[str, tuple[float, float, float | None]] = {}
    lifespan_messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await lifespan_messages.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def lifespan_send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan_messages.get, lifespan_send)
    )
    await started.wait()
    try:
        for name, (method, path, headers, body, expected) in _routes(token).items():
            if only and name != only:
                continue
            for _ in range(50):  # warm-up: channel, caches
                status, answer = await _call(served, method, path, headers, body)
                assert status == expected, (name, status, answer)
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(requests):
                await _call(served, method, path, headers, body)
            profile.disable()
            stats = pstats.Stats(profile)
            calls = sum(row[1] for row in stats.stats.values())  # type: ignore[attr-defined]
            outside = _outside_the_loop(stats.stats)  # type: ignore[attr-defined]
            cpu = None
            if cpu_rounds:
                rounds = []
                for _ in range(cpu_rounds):
                    clock = time.thread_time()
                    for _ in range(requests):
                        await _call(served, method, path, headers, body)
                    rounds.append((time.thread_time() - clock) / requests * 1e6)
                cpu = statistics.median(rounds)
            per_request[name] = (calls / requests, outside / requests, cpu)
            if top:
                print(f"--- {name}: the {top} functions called most per request")
                rows = sorted(stats.stats.items(), key=lambda item: -item[1][1])  # type: ignore[attr-defined]
                for (file, line, func), row in rows[:top]:
                    print(f"{row[1] / requests:8.1f}  {func}  {file}:{line}")
    finally:
        await lifespan_messages.put({"type": "lifespan.shutdown"})
        await lifespan
        await clients.close()
        stop[0]()
        thread.join()
    return per_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--route", choices=["get", "enroll", "pay", "webhook"])
    parser.add_argument("--top", type=int, default=0, help="list the N most called functions")
    parser.add_argument(
        "--cpu", type=int, default=0, help="time N rounds of the requests: CPU-us per request"
    )
    args = parser.parse_args()
    setup_tracing("gateway")  # as the gateway does: an SDK provider, ALWAYS_OFF
    measured = asyncio.run(measure(args.requests, args.route, args.top, args.cpu))
    for name, (calls, outside, cpu) in measured.items():
        timed = f", {cpu:7.1f} CPU-us per request" if cpu is not None else ""
        print(
            f"{name:8} {calls:8.1f} Python calls per request, {outside:8.1f} outside the event"
            f" loop{timed}"
        )


if __name__ == "__main__":
    main()
