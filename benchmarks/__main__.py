"""`make bench`: how long the push-driven saga takes on this machine.

Starts the whole stack (embedded PostgreSQL and NATS), then for N enrollments measures
  pay -> ACTIVE      card submitted on the local checkout until the enrollment is ACTIVE
                     (signed webhook delivery, payments, outbox relay, JetStream, enrollment)
  complete -> credential  CompleteEnrollment until the enrollment shows its credential
                     (enrollment outbox, credentials issues and signs, back to enrollment)
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


def measure(base_url: str, runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"pay -> ACTIVE": [], "complete -> credential": []}
    with httpx.Client(base_url=base_url, timeout=15, trust_env=False) as http:
        admin = _token(http, role="admin", sub="bench-admin")
        provider_id = http.post("/api/v1/providers", json={"name": "Bench"}, headers=admin).json()[
            "id"
        ]
        provider = _token(http, role="provider", sub="bench-provider", provider_id=provider_id)
        program = http.post("/api/v1/programs", json=demo_program(), headers=provider).json()
        http.post(f"/api/v1/programs/{program['id']}/publish", headers=provider).raise_for_status()
        for _ in range(runs):
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
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--url", help="measure a running stack instead of starting one")
    args = parser.parse_args()
    if args.url:
        timings = measure(args.url.rstrip("/"), args.runs)
    else:
        with (
            tempfile.TemporaryDirectory() as tmp,
            Stack(Path(tmp), options=StackOptions()) as stack,
        ):
            stack.start()
            stack.wait_ready(120)
            measure(stack.gateway_url, 3)  # warm-up: connections, JIT-free caches, plans
            timings = measure(stack.gateway_url, args.runs)
    print(
        f"{'step':<24} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  (n={args.runs}, polled every 2 ms)"
    )
    for step, values in timings.items():
        ms = sorted(v * 1000 for v in values)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        print(f"{step:<24} {statistics.median(ms):8.1f} {p95:8.1f} {ms[-1]:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
