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
        before = (await js.stream_info(name)).config
        assert before.num_replicas == 1
        # The producer's start-up brings an existing stream to its setting: three copies
        # need three servers, so it is refused (by jetstream itself: nats-server 2.9
        # accepts the update silently, 2.15 refuses it) and the stream is left as it was.
        with pytest.raises(APIError) as refused:
            await jetstream.ensure_stream(js, service, max_age_seconds=7200, replicas=3)
        assert refused.value.err_code == jetstream.REPLICAS_NOT_SUPPORTED
        after = (await js.stream_info(name)).config
        assert (after.num_replicas, after.max_age) == (1, before.max_age)
        # One copy is what the server keeps: the same update with it goes through.
        await jetstream.ensure_stream(js, service, max_age_seconds=7200, replicas=1)
        assert (await js.stream_info(name)).config.max_age == 7200
        # A new stream with three copies is refused by the server itself, same code.
        other = f"replicas{uuid.uuid4().hex[:8]}"
        with pytest.raises(APIError) as refused:
            await jetstream.ensure_stream(js, other, replicas=3)
        assert refused.value.err_code == jetstream.REPLICAS_NOT_SUPPORTED
        with pytest.raises(jetstream.NotFoundError):
            await js.stream_info(stream_for(other))
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(stream_for(service))
        await nc.close()
