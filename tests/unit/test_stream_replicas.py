"""NATS_STREAM_REPLICAS: how many copies JetStream keeps of each stream (1 on one server,
3 on the Kubernetes overlay's 3-node cluster). A bad value fails start-up by name, and the
value is in the config of every stream a service creates (its own and the DLQ);
tests/integration/test_stream_replicas.py shows JetStream gets it."""

from __future__ import annotations

import pytest
from nats.js.api import ClusterInfo, StorageType
from nats.js.errors import APIError

from services.common import jetstream
from services.common.settings import CommonSettings, ConfigError, stream_replicas

REQUIRED = {"DATABASE_URL": "postgresql://u@h/db", "NATS_URL": "nats://h:4222"}


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NATS_STREAM_REPLICAS", raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)


def test_default_is_one_copy() -> None:
    assert stream_replicas() == 1
    assert CommonSettings.from_env(50051).nats_stream_replicas == 1


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("3", 3), (" 5 ", 5), ("", 1)])
def test_accepted_values(monkeypatch: pytest.MonkeyPatch, raw: str, expected: int) -> None:
    monkeypatch.setenv("NATS_STREAM_REPLICAS", raw)
    assert CommonSettings.from_env(50051).nats_stream_replicas == expected


@pytest.mark.parametrize("raw", ["0", "-1", "6", "1000", "three", "3.0", "1e1", "3 3"])
def test_bad_values_fail_start_up_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("NATS_STREAM_REPLICAS", raw)
    with pytest.raises(ConfigError, match="NATS_STREAM_REPLICAS"):
        CommonSettings.from_env(50051)


@pytest.mark.parametrize("replicas", [1, 3])
def test_the_service_stream_carries_the_replica_count(replicas: int) -> None:
    config = jetstream.stream_config("payments", max_age_seconds=3600, replicas=replicas)
    assert config.name == "PAYMENTS"
    assert config.subjects == ["upskill.payments.>"]
    assert config.num_replicas == replicas
    assert config.storage == StorageType.FILE
    assert config.max_age == 3600
    assert config.duplicate_window == jetstream.DUPLICATE_WINDOW_SECONDS
    # What goes over the wire to JetStream.
    assert config.as_dict()["num_replicas"] == replicas


def test_the_dead_letter_stream_carries_the_replica_count() -> None:
    config = jetstream.dlq_stream_config(replicas=3)
    assert (config.name, config.num_replicas) == (jetstream.DLQ_STREAM, 3)
    assert config.as_dict()["num_replicas"] == 3
    assert config.max_age == jetstream.DEFAULT_DLQ_MAX_AGE_SECONDS


CLUSTERED = ClusterInfo(leader="n1", name="upskill", replicas=None)
# What nats-server 2.15 reports for a stream on a server outside a cluster; 2.9 reports none.
SINGLE_SERVER = ClusterInfo(leader="n1", name=None, replicas=None)


@pytest.mark.parametrize("cluster", [None, SINGLE_SERVER, ClusterInfo(name="")])
@pytest.mark.parametrize("replicas", [2, 3, 5])
def test_more_than_one_copy_outside_a_cluster_is_refused(
    cluster: ClusterInfo | None, replicas: int
) -> None:
    config = jetstream.stream_config("payments", max_age_seconds=3600, replicas=replicas)
    refusal = jetstream.replicas_refusal(config, cluster)
    assert isinstance(refusal, APIError)
    # As the server's own refusal reads, so one handler serves both.
    assert (refusal.code, refusal.err_code) == (500, jetstream.REPLICAS_NOT_SUPPORTED)
    assert refusal.description is not None
    assert "NATS_STREAM_REPLICAS" in refusal.description
    assert "PAYMENTS" in refusal.description


@pytest.mark.parametrize("cluster", [None, SINGLE_SERVER, CLUSTERED])
def test_one_copy_is_never_refused(cluster: ClusterInfo | None) -> None:
    config = jetstream.dlq_stream_config(max_age_seconds=3600, replicas=1)
    assert jetstream.replicas_refusal(config, cluster) is None


@pytest.mark.parametrize("replicas", [3, 5])
def test_a_cluster_is_left_to_judge_its_own_size(replicas: int) -> None:
    config = jetstream.stream_config("payments", max_age_seconds=3600, replicas=replicas)
    assert jetstream.replicas_refusal(config, CLUSTERED) is None
