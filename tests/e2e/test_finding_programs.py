"""Finding programs on the storefront, against the real system: partial words and typos,
the price and duration filters, seats left, and paging that keeps the filters."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.devstack.demo import demo_program
from services.devstack.stack import Stack


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as client:
        yield client


def _token(http: httpx.Client, **claims: str) -> dict[str, str]:
    response = http.post("/api/v1/dev/tokens", json=claims)
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['token']}"}


def _publish(http: httpx.Client, provider: dict[str, str], **changes: Any) -> dict[str, Any]:
    body = demo_program() | {"summary": "", "description": ""} | changes
    created = http.post("/api/v1/programs", json=body, headers=provider)
    assert created.status_code == 201, created.text
    published = http.post(f"/api/v1/programs/{created.json()['id']}/publish", headers=provider)
    assert published.status_code == 200, published.text
    return dict(published.json())


def _cards(page: str) -> list[str]:
    return re.findall(r'<h2><a href="/programs/([0-9a-f-]{36})">', page)


def test_storefront_finds_filters_pages_and_counts_seats(http: httpx.Client) -> None:
    run = uuid.uuid4().hex[:6]
    admin = _token(http, role="admin", sub=f"admin-{run}")
    provider_id = http.post(
        "/api/v1/providers", json={"name": f"Find {run}"}, headers=admin
    ).json()["id"]
    provider = _token(http, role="provider", sub=f"p-{run}", provider_id=provider_id)
    word = f"zq{run}"  # a word no other test's program has
    sql = _publish(
        http,
        provider,
        title=f"SQL for Analysts {word}",
        price={"amount_minor": 0, "currency": "USD"},
        duration_hours=4,
        capacity=3,
    )
    kube = _publish(
        http,
        provider,
        title=f"Kubernetes Operations {word}",
        price={"amount_minor": 19900, "currency": "USD"},
        duration_hours=30,
    )

    def search(**params: str) -> list[str]:
        answer = http.get("/", params=params)
        assert answer.status_code == 200, answer.text
        return _cards(answer.text)

    assert search(q=f"SQ {word}") == [sql["id"]]
    assert search(q=f"analyst {word}") == [sql["id"]]
    assert search(q=f"Kube {word}") == [kube["id"]]
    assert kube["id"] in search(q="Kubernets Operatons")  # two typos
    assert search(q=word, price="free") == [sql["id"]]
    assert search(q=word, price="250") == [kube["id"], sql["id"]]
    assert search(q=word, duration="short") == [sql["id"]]
    assert search(q=word, duration="long") == [kube["id"]]
    assert search(q=word, duration="nonsense") == [kube["id"], sql["id"]]  # ignored

    # Seats left: 3 seats, one taken by a free enrollment.
    learner = _token(http, role="learner", sub=f"l-{run}")
    assert (
        http.post(
            "/api/v1/enrollments", json={"program_id": sql["id"]}, headers=learner
        ).status_code
        == 201
    )
    assert "2 of 3 seats left" in http.get("/", params={"q": word}).text
    assert "2 of 3 seats left" in http.get(f"/programs/{sql['id']}").text

    # Paging keeps the filters, and every page after the first links back to it.
    more = [_publish(http, provider, title=f"Kubernetes level {i} {word}") for i in range(12)]
    first = http.get("/", params={"q": f"kube {word}"})
    next_link = re.search(r'href="(/\?[^"]*page_token=[^"]+)"', first.text)
    assert next_link, "no next page"
    second = http.get(next_link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert "First page" in second.text
    shown = _cards(first.text) + _cards(second.text)
    assert sorted(shown) == sorted([kube["id"]] + [p["id"] for p in more])
    assert len(shown) == len(set(shown))


def test_the_api_filters_by_duration_and_refuses_bad_bounds(http: httpx.Client) -> None:
    assert http.get("/api/v1/programs", params={"min_duration_hours": "-1"}).status_code == 422
    assert http.get("/api/v1/programs", params={"max_duration_hours": "x"}).status_code == 422
    assert http.get("/api/v1/programs", params={"max_duration_hours": 2**31}).status_code == 422
    ok = http.get("/api/v1/programs", params={"min_duration_hours": 1, "max_duration_hours": 2})
    assert ok.status_code == 200
    assert all(1 <= p["duration_hours"] <= 2 for p in ok.json()["programs"])
