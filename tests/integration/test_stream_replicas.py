"""The replica count reaches JetStream: a single server (the tests', `upskill dev`'s) keeps
one copy and refuses three, which is how a NATS_STREAM_REPLICAS larger than the cluster
fails a service's start-up instead of passing silently."""

from __future__ import annotations

import contextlib
import uuid

import nats
import pytest
from nats.js.errors import APIError

from services.common import jetstream
from services.common.events import stream_for


async def test_one_copy_on_one_server_and_three_refused(nats_url: str) -> None:
    service = f"replicas{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        name = await jetstream.ensure_stream(js, service, replicas=1)
        assert (await js.stream_info(name)).config.num_replicas == 1
        # The producer's start-up brings an existing stream to its setting: three copies
        # need three servers, so one server answers with an error.
        with pytest.raises(APIError):
            await jetstream.ensure_stream(js, service, max_age_seconds=3600, replicas=3)
        other = f"replicas{uuid.uuid4().hex[:8]}"
        with pytest.raises(APIError):
            await jetstream.ensure_stream(js, other, replicas=3)
        with pytest.raises(jetstream.NotFoundError):
            await js.stream_info(stream_for(other))
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(stream_for(service))
        await nc.close()
