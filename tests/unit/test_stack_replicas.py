"""The dev stack's topology with replicas: instance names, ports, the gRPC targets callers
dial (every replica, round_robin) and each instance's own listen address."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.devstack.stack import (
    GRPC_SERVICES,
    MAX_REPLICAS,
    DevSecrets,
    Stack,
    StackOptions,
    service_of,
)


def test_instance_names_and_their_service() -> None:
    stack = Stack(Path("/nonexistent"), replicas=3)
    assert stack.instances("catalog") == ["catalog", "catalog-2", "catalog-3"]
    assert stack.instances("gateway") == ["gateway"]  # the one that balances
    assert service_of("catalog-3") == "catalog"
    assert service_of("catalog") == "catalog"
    assert service_of("gateway") == "gateway"
    assert service_of("not-a-service-2") == "not-a-service-2"
    assert len(stack.instance_names()) == 0  # nothing started yet
    with pytest.raises(ValueError, match="unknown service"):
        stack.addr("catalog-4")


def test_one_replica_is_the_stack_as_before() -> None:
    stack = Stack(Path("/nonexistent"))
    assert stack.instances("payments") == ["payments"]
    assert stack.target("payments") == stack.addr("payments")
    with pytest.raises(ValueError, match="unknown service"):
        stack.addr("payments-2")


@pytest.mark.parametrize("replicas", [0, -1, MAX_REPLICAS + 1])
def test_replica_count_is_bounded(replicas: int) -> None:
    with pytest.raises(ValueError, match="replicas must be between"):
        Stack(Path("/nonexistent"), replicas=replicas)


def test_every_replica_has_its_port_and_callers_dial_them_all(tmp_path: Path) -> None:
    stack = Stack(tmp_path, replicas=2, options=StackOptions(durable=False))
    ports = {
        name: stack.addr(name) for service in GRPC_SERVICES for name in stack.instances(service)
    }
    assert len(set(ports.values())) == len(ports) == 2 * len(GRPC_SERVICES)
    assert stack.target("catalog") == (f"ipv4:{stack.addr('catalog')},{stack.addr('catalog-2')}")
    # The environment without starting servers: secrets and URLs are all it needs.
    stack.secrets = DevSecrets.generate()
    stack.database_urls = {name: f"postgresql://u@h/{name}" for name in GRPC_SERVICES}
    second = stack.env_for("enrollment-2")
    assert second["LISTEN_ADDR"] == stack.addr("enrollment-2")
    assert second["DATABASE_URL"] == "postgresql://u@h/enrollment"  # replicas share it
    assert second["CATALOG_ADDR"] == stack.target("catalog")
    gateway = stack.env_for("gateway")
    assert gateway["PAYMENTS_ADDR"] == stack.target("payments")
