"""`upskill dlq`: list and replay dead letters in the JetStream stream DLQ.

A dead letter lives on upskill.dlq.<consumer> and carries the original CloudEvents
headers plus upskill-dlq-reason, -consumer, -subject (the original subject) and
-stream-seq. Replaying republishes the body with the original ce-* (and trace) headers
to the original subject under a fresh Nats-Msg-Id, then deletes the dead letter. A
replay interrupted between the two is safe to repeat: the Nats-Msg-Id is derived from
the dead letter's sequence, so the producing stream drops the second copy, and the
consumers dedupe on ce-id anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from services.common.jetstream import DLQ_STREAM

DLQ_PREFIX = "upskill.dlq."
# Headers a replay carries over from the dead letter (besides every ce-* one).
_CARRIED = {"content-type", "traceparent", "tracestate"}


class DlqError(RuntimeError):
    """A dead letter cannot be listed or replayed; the message says why."""


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    consumer: str
    original_subject: str
    reason: str
    ce_id: str
    ce_type: str
    time: datetime | None
    headers: dict[str, str]
    data: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "consumer": self.consumer,
            "subject": self.original_subject,
            "reason": self.reason,
            "ce_id": self.ce_id,
            "ce_type": self.ce_type,
            "time": self.time.isoformat() if self.time else None,
            "original_stream_seq": self.headers.get("upskill-dlq-stream-seq", ""),
            "size": len(self.data),
        }

    def replay_headers(self) -> dict[str, str]:
        headers = {
            key: value
            for key, value in self.headers.items()
            if key.lower().startswith("ce-") or key.lower() in _CARRIED
        }
        headers["Nats-Msg-Id"] = f"{self.ce_id or 'unknown'}-replay-{self.seq}"
        return headers


@dataclass(frozen=True)
class Replayed:
    dlq_seq: int
    subject: str
    stream: str
    stream_seq: int
    duplicate: bool
    msg_id: str


def _subject_filter(consumer: str | None) -> str:
    if consumer is None:
        return f"{DLQ_PREFIX}>"
    if not consumer or any(c in consumer for c in " .*>"):
        raise DlqError(f"invalid consumer name {consumer!r}")
    return f"{DLQ_PREFIX}{consumer}"


def _dead_letter(
    seq: int,
    subject: str,
    headers: dict[str, str] | None,
    data: bytes | None,
    time: datetime | None,
) -> DeadLetter:
    hdrs = {str(k): str(v) for k, v in (headers or {}).items()}
    consumer = hdrs.get("upskill-dlq-consumer") or subject.removeprefix(DLQ_PREFIX)
    return DeadLetter(
        seq=seq,
        consumer=consumer,
        original_subject=hdrs.get("upskill-dlq-subject", ""),
        reason=hdrs.get("upskill-dlq-reason", ""),
        ce_id=hdrs.get("ce-id", ""),
        ce_type=hdrs.get("ce-type", ""),
        time=time,
        headers=hdrs,
        data=data or b"",
    )


async def list_dead_letters(js: JetStreamContext, consumer: str | None = None) -> list[DeadLetter]:
    """Every dead letter (of `consumer`, or of all consumers), oldest first."""
    subject = _subject_filter(consumer)
    try:
        info = await js.stream_info(DLQ_STREAM)
    except NotFoundError:
        return []  # no consumer ever dead-lettered anything
    state = info.state
    if not state.messages:
        return []
    found: list[DeadLetter] = []
    seq = max(1, state.first_seq)
    while seq <= state.last_seq:
        try:
            msg = await js.get_msg(DLQ_STREAM, seq=seq, subject=subject, next=True)
        except NotFoundError:
            break
        if msg.seq is None:
            break
        found.append(_dead_letter(msg.seq, msg.subject or "", msg.headers, msg.data, msg.time))
        seq = msg.seq + 1
    return found


async def get_dead_letter(js: JetStreamContext, seq: int) -> DeadLetter:
    try:
        msg = await js.get_msg(DLQ_STREAM, seq=seq)
    except NotFoundError:
        raise DlqError(f"no dead letter with sequence {seq} in stream {DLQ_STREAM}") from None
    return _dead_letter(seq, msg.subject or "", msg.headers, msg.data, msg.time)


async def replay(js: JetStreamContext, letter: DeadLetter) -> Replayed:
    """Republish one dead letter to its original subject, then delete it from the DLQ."""
    if not letter.original_subject:
        raise DlqError(f"dead letter {letter.seq} has no upskill-dlq-subject header")
    headers = letter.replay_headers()
    try:
        ack = await js.publish(letter.original_subject, letter.data, headers=headers)
    except Exception as exc:
        raise DlqError(
            f"cannot republish dead letter {letter.seq} to {letter.original_subject}: {exc!r}"
        ) from exc
    await js.delete_msg(DLQ_STREAM, letter.seq)
    return Replayed(
        dlq_seq=letter.seq,
        subject=letter.original_subject,
        stream=ack.stream,
        stream_seq=ack.seq,
        duplicate=bool(ack.duplicate),
        msg_id=headers["Nats-Msg-Id"],
    )


async def replay_dead_letters(
    js: JetStreamContext, consumer: str, seq: int | None = None
) -> list[Replayed]:
    """Replay dead letter `seq` of `consumer`, or all of that consumer's when seq is None."""
    _subject_filter(consumer)
    if seq is not None:
        letter = await get_dead_letter(js, seq)
        if letter.consumer != consumer:
            raise DlqError(
                f"dead letter {seq} belongs to consumer {letter.consumer!r}, not {consumer!r}"
            )
        letters = [letter]
    else:
        letters = await list_dead_letters(js, consumer)
    return [await replay(js, letter) for letter in letters]
