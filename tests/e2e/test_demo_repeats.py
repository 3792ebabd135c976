"""`upskill demo` run again and again: one demo provider, one demo program on sale."""

from __future__ import annotations

import httpx

from services.devstack.demo import DEMO_PROVIDER_NAME, demo_program, run_journey
from services.devstack.stack import Stack


def test_repeated_demos_reuse_the_provider_and_keep_one_program_on_sale(stack: Stack) -> None:
    said: list[str] = []
    first = run_journey(stack.gateway_url, say=said.append)
    second = run_journey(stack.gateway_url, say=said.append)
    assert first.provider_id == second.provider_id
    assert first.program_id != second.program_id
    assert any(line.endswith("(reused)") for line in said)
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        token = http.post("/api/v1/dev/tokens", json={"role": "admin", "sub": "a"}).json()["token"]
        found = http.get(
            "/api/v1/providers",
            params={"name": DEMO_PROVIDER_NAME},
            headers={"authorization": f"Bearer {token}"},
        ).json()["providers"]
        assert [p["id"] for p in found] == [first.provider_id]
        on_sale = http.get(
            "/api/v1/programs", params={"provider_id": first.provider_id, "page_size": 100}
        ).json()["programs"]
        assert [p["id"] for p in on_sale if p["title"] == demo_program()["title"]] == [
            second.program_id
        ]
        # The first run's learner keeps their credential: archiving sells no more seats,
        # it takes nothing back.
        credential = http.get(f"/api/v1/credentials/{first.credential_id}").json()
        assert credential["status"] == "ISSUED"
        # Finding providers is for admins, and needs a name.
        learner = http.post("/api/v1/dev/tokens", json={"role": "learner", "sub": "l"}).json()
        assert (
            http.get(
                "/api/v1/providers",
                params={"name": DEMO_PROVIDER_NAME},
                headers={"authorization": f"Bearer {learner['token']}"},
            ).status_code
            == 403
        )
        assert (
            http.get("/api/v1/providers", headers={"authorization": f"Bearer {token}"}).status_code
            == 422
        )
