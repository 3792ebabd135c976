"""`make bench-money`: the money paths, one purchase at a time (`make bench` measures
concurrent purchases; this one measures refunds and the books).

Starts the whole stack (embedded PostgreSQL and NATS), then for N enrollments measures
  pay -> ACTIVE      card submitted on the local checkout until the enrollment is ACTIVE
                     (signed webhook delivery, payments, outbox relay, JetStream, enrollment)
  complete -> credential  CompleteEnrollment until the enrollment shows its credential
                     (enrollment outbox, credentials issues and signs, back to enrollment)
  refund -> revoked  an admin's refund (every --refund-every'th enrollment) until the
                     enrollment is REFUNDED and its credential REVOKED (refund worker,
                     gateway, booking, payments -> enrollment -> credentials)
With --reconcile, `upskill reconcile` then checks the books of every purchase made.
Timed targets live here, not in the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from services.devstack.demo import demo_program
from services.devstack.stack import Stack, StackOptions

POLL_SECONDS = 0.002


def _until(probe: Callable[[], bool], deadline: float = 30.0) -> float:
    start = time.perf_counter()
    while not probe():
        if time.perf_counter() - start > deadline:
            raise TimeoutError("saga did not converge")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - start


def _token(http: httpx.Client, **claims: str) -> dict[str, str]:
    return {
        "authorization": "Bearer " + http.post("/api/v1/dev/tokens", json=claims).json()["token"]
    }


def measure(base_url: str, runs: int, refund_every: int = 1) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {
        "pay -> ACTIVE": [],
        "complete -> credential": [],
        "refund -> revoked": [],
    }
    with httpx.Client(base_url=base_url, timeout=15, trust_env=False) as http:
        admin = _token(http, role="admin", sub="bench-admin")
        provider_id = http.post("/api/v1/providers", json={"name": "Bench"}, headers=admin).json()[
            "id"
        ]
        provider = _token(http, role="provider", sub="bench-provider", provider_id=provider_id)
        # Unlimited seats: a run may be longer than the demo program's capacity.
        program = http.post(
            "/api/v1/programs", json=demo_program() | {"capacity": None}, headers=provider
        ).json()
        http.post(f"/api/v1/programs/{program['id']}/publish", headers=provider).raise_for_status()
        for run in range(runs):
            learner = _token(http, role="learner", sub=f"bench-{uuid.uuid4().hex[:8]}")
            enrollment = http.post(
                "/api/v1/enrollments", json={"program_id": program["id"]}, headers=learner
            ).json()
            url = f"/api/v1/enrollments/{enrollment['id']}"

            def state(
                key: str, expected: str | None, url: str = url, auth: dict[str, str] = learner
            ) -> bool:
                value = http.get(url, headers=auth).json().get(key)
                return bool(value) if expected is None else value == expected

            http.post(
                enrollment["checkout_url"].replace(base_url, ""),
                data={"card_number": "4242424242424242"},
                follow_redirects=False,
            )
            timings["pay -> ACTIVE"].append(_until(lambda: state("status", "ACTIVE")))
            http.post(f"{url}/complete", json={}, headers=provider).raise_for_status()
            timings["complete -> credential"].append(_until(lambda: state("credential_id", None)))
            if refund_every and run % refund_every == 0:
                credential = http.get(url, headers=learner).json()["credential_id"]
                http.post(f"{url}/refund", json={}, headers=admin).raise_for_status()

                def revoked(credential: str = credential) -> bool:
                    shown = http.get(f"/api/v1/credentials/{credential}").json()
                    return state("status", "REFUNDED") and shown["status"] == "REVOKED"

                timings["refund -> revoked"].append(_until(revoked))
    return timings


def reconcile(stack: Stack) -> int:
    """`upskill reconcile` over everything the stack holds; its exit status."""
    from services.cli.main import main as cli

    return cli(
        [
            "reconcile",
            *(
                f"--{name}-db={stack.database_urls[name]}"
                for name in ("payments", "enrollment", "credentials")
            ),
            "--settle-seconds=0",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.money")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--url", help="measure a running stack instead of starting one")
    parser.add_argument(
        "--refund-every", type=int, default=1, help="refund every Nth purchase (0: none)"
    )
    parser.add_argument(
        "--reconcile", action="store_true", help="then reconcile the books (own stack only)"
    )
    args = parser.parse_args()
    if args.url:
        timings = measure(args.url.rstrip("/"), args.runs, args.refund_every)
    else:
        with (
            tempfile.TemporaryDirectory() as tmp,
            Stack(Path(tmp), options=StackOptions()) as stack,
        ):
            stack.start()
            stack.wait_ready(120)
            measure(stack.gateway_url, 3)  # warm-up: connections, JIT-free caches, plans
            timings = measure(stack.gateway_url, args.runs, args.refund_every)
            if args.reconcile and reconcile(stack) != 0:
                print("reconcile found drift", file=sys.stderr)
                return 1
    print(
        f"{'step':<24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  (n={args.runs}, polled every 2 ms)"
    )
    for step, values in timings.items():
        if not values:
            continue
        ms = sorted(v * 1000 for v in values)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        print(f"{step:<24} {statistics.median(ms):8.1f} {p95:8.1f} {ms[-1]:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
