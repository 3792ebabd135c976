"""`upskill dlq list` and `upskill dlq replay` against a real JetStream."""

from __future__ import annotations

import asyncio
import json
import uuid

import nats
import pytest
from nats.js.errors import NotFoundError

from services.cli.main import main
from services.common import jetstream
from services.devstack.embedded import EmbeddedNats, ExternalNats

ORIGINAL_SUBJECT = "upskill.payments.payment_succeeded"


def dead_letter_headers(consumer: str, ce_id: str, original_seq: int) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": ce_id,
        "ce-type": "upskill.payments.v1.PaymentSucceeded",
        "ce-source": "upskill/payments",
        "ce-time": "2025-01-01T00:00:00.000Z",
        "ce-subject": "pay_1",
        "content-type": "application/protobuf",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "upskill-dlq-reason": "failed 8 times, last: boom",
        "upskill-dlq-consumer": consumer,
        "upskill-dlq-subject": ORIGINAL_SUBJECT,
        "upskill-dlq-stream-seq": str(original_seq),
        "Nats-Msg-Id": f"dlq-{consumer}-{ce_id}",
    }


async def _setup(url: str, consumer: str, other: str) -> list[int]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await jetstream.ensure_dlq_stream(js)
        await jetstream.ensure_stream(js, "payments")
        seqs = []
        for i, who in enumerate([consumer, other, consumer]):
            ack = await js.publish(
                f"upskill.dlq.{who}",
                f"body-{i}".encode(),
                headers=dead_letter_headers(who, str(uuid.uuid4()), 100 + i),
            )
            seqs.append(ack.seq)
        return seqs
    finally:
        await nc.close()


async def _dlq_has(url: str, seq: int) -> bool:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().get_msg(jetstream.DLQ_STREAM, seq=seq)
        return True
    except NotFoundError:
        return False
    finally:
        await nc.close()


async def _replayed(url: str, msg_id: str) -> tuple[bytes, dict[str, str]]:
    """The message with Nats-Msg-Id `msg_id` on the original subject."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("PAYMENTS")
        for seq in range(info.state.last_seq, info.state.first_seq - 1, -1):
            try:
                msg = await js.get_msg("PAYMENTS", seq=seq)
            except NotFoundError:
                continue
            if (msg.headers or {}).get("Nats-Msg-Id") == msg_id:
                assert msg.subject == ORIGINAL_SUBJECT
                return msg.data or b"", dict(msg.headers or {})
        raise AssertionError(f"no message {msg_id} in PAYMENTS")
    finally:
        await nc.close()


def test_list_and_replay(
    nats_server: EmbeddedNats | ExternalNats, capsys: pytest.CaptureFixture[str]
) -> None:
    url = nats_server.url
    consumer, other = f"c{uuid.uuid4().hex[:8]}", f"o{uuid.uuid4().hex[:8]}"
    first, other_seq, third = asyncio.run(_setup(url, consumer, other))

    assert main(["dlq", "--nats-url", url, "list", "--consumer", consumer, "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [item["seq"] for item in listed] == [first, third]
    assert listed[0]["subject"] == ORIGINAL_SUBJECT
    assert listed[0]["reason"] == "failed 8 times, last: boom"
    assert listed[0]["original_stream_seq"] == "100"

    assert main(["dlq", "--nats-url", url, "list"]) == 0
    table = capsys.readouterr().out
    assert consumer in table
    assert other in table

    # A dead letter of another consumer is refused by --seq with this consumer.
    assert (
        main(["dlq", "--nats-url", url, "replay", "--consumer", consumer, "--seq", str(other_seq)])
        == 1
    )
    assert f"belongs to consumer '{other}'" in capsys.readouterr().err
    assert asyncio.run(_dlq_has(url, other_seq))

    assert (
        main(["dlq", "--nats-url", url, "replay", "--consumer", consumer, "--seq", str(first)]) == 0
    )
    assert f"replayed dead letter {first} -> {ORIGINAL_SUBJECT}" in capsys.readouterr().out
    assert not asyncio.run(_dlq_has(url, first))
    assert asyncio.run(_dlq_has(url, third))

    body, headers = asyncio.run(_replayed(url, f"{listed[0]['ce_id']}-replay-{first}"))
    assert body == b"body-0"
    assert headers["ce-id"] == listed[0]["ce_id"]
    assert headers["ce-type"] == "upskill.payments.v1.PaymentSucceeded"
    assert headers["traceparent"].startswith("00-0af7651916cd43dd")
    assert not any(key.startswith("upskill-dlq-") for key in headers)

    assert main(["dlq", "--nats-url", url, "replay", "--consumer", consumer, "--all"]) == 0
    assert capsys.readouterr().out.count("replayed dead letter") == 1
    assert not asyncio.run(_dlq_has(url, third))
    assert asyncio.run(_dlq_has(url, other_seq))
    assert main(["dlq", "--nats-url", url, "list", "--consumer", consumer, "--json"]) == 0
    assert capsys.readouterr().out.strip() == ""


def test_without_nats_the_cli_explains(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    assert main(["dlq", "--data-dir", str(tmp_path), "list"]) == 1
    assert "set NATS_URL" in capsys.readouterr().err
