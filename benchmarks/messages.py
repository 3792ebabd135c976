"""`python -m benchmarks.messages`: NATS messages and bytes per purchase, by kind.

CPU per purchase in NATS moves with the machine; what the server is asked to do does not.
This starts the stack with the embedded NATS's monitoring endpoint on, and a listener on
every subject a purchase's messaging uses (the streams' subjects, `$JS.API.>` with the pull
requests, `$JS.ACK.>`, the replies on `_INBOX.>`), then counts, per purchase at each level,
what crossed the server by kind (publishes, their acks, pull requests, deliveries, acks,
status messages such as "no messages", other JetStream API calls) and by consumer, and the
server's own totals (/varz in_msgs, out_msgs, in_bytes, out_bytes; the listener's own copies
are taken out). The idle rate, measured for a few seconds before each level, is subtracted.
With --pipeline, the same for the logic-free pipeline on the same server.

    python -m benchmarks.messages --levels 1,32 --purchases 200 --pipeline
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import nats
from nats.aio.msg import Msg

from benchmarks.__main__ import Market, mint_learners, run_level
from benchmarks.pipeline import Pipeline
from services.devstack.embedded import free_port
from services.devstack.stack import Stack, StackOptions

IDLE_SECONDS = 5.0
LISTENER = "benchmarks.messages"
WATCHED = ("upskill.>", "pipeline.>", "$JS.API.>", "$JS.ACK.>", "_INBOX.>")


def kind_of(msg: Msg) -> tuple[str, str]:
    """(kind, whose) of one message the listener saw."""
    subject, reply = msg.subject, msg.reply or ""
    if subject.startswith("$JS.API.CONSUMER.MSG.NEXT."):
        stream, durable = subject.split(".")[-2:]
        body = json.loads(msg.data or b"{}")
        shape = f"batch {body.get('batch', 1)}" + (" no_wait" if body.get("no_wait") else "")
        return f"pull request ({shape})", f"{stream}/{durable}"
    if subject.startswith("$JS.API."):
        return f"api {'.'.join(subject.split('.')[2:4])}", ""
    if subject.startswith("$JS.ACK."):
        parts = subject.split(".")
        return f"ack {(msg.data or b'+ACK').decode()[:5]}", f"{parts[2]}/{parts[3]}"
    if reply.startswith("$JS.ACK."):
        parts = reply.split(".")
        return "delivery", f"{parts[2]}/{parts[3]}"
    if subject.startswith("_INBOX."):
        status = (msg.headers or {}).get("Status")
        if status:
            return f"status {status}", ""
        if msg.data.startswith(b'{"stream"'):
            return "publish ack", ""
        return "reply (api, other)", ""
    return ("publish" if reply else "publish (no reply)"), subject.split(".")[1]


class Listener:
    """Counts what crosses the server on WATCHED subjects, by kind, by whose and in bytes."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.whose: Counter[tuple[str, str]] = Counter()
        self.bytes: Counter[str] = Counter()
        self.messages = 0
        self.payload_bytes = 0

    async def start(self, url: str) -> nats.NATS:
        nc = await nats.connect(url, name=LISTENER)
        for subject in WATCHED:
            await nc.subscribe(subject, cb=self._seen, pending_msgs_limit=1_000_000)
        await nc.flush()
        return nc

    async def _seen(self, msg: Msg) -> None:
        kind, whose = kind_of(msg)
        self.kinds[kind] += 1
        self.whose[(kind, whose)] += 1
        size = len(msg.data) + len(msg.subject) + len(msg.reply or "")
        size += sum(len(k) + len(v) + 4 for k, v in (msg.headers or {}).items())
        self.bytes[kind] += size
        self.messages += 1
        self.payload_bytes += size

    def snapshot(self) -> tuple[Counter[str], Counter[tuple[str, str]], Counter[str]]:
        return Counter(self.kinds), Counter(self.whose), Counter(self.bytes)


def varz(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/varz", timeout=5) as response:
        body = json.load(response)
    return {k: int(body[k]) for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes")}


def connz(port: int) -> dict[str, dict[str, int]]:
    url = f"http://127.0.0.1:{port}/connz?limit=1000"
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    found: dict[str, dict[str, int]] = {}
    for c in body.get("connections", []):
        name = c.get("name") or f"{c['ip']}:{c['port']}"
        row = found.setdefault(name, Counter())
        for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes"):
            row[k] += int(c[k])
    return found


def server_counts(
    before: dict[str, int],
    after: dict[str, int],
    conns_before: dict[str, dict[str, int]],
    conns_after: dict[str, dict[str, int]],
) -> dict[str, int]:
    """The server's totals between two /varz, less what it sent the listener (the
    listener's connection's own counts in /connz)."""
    server = {k: after[k] - before[k] for k in after}
    mine, mine_before = conns_after.get(LISTENER, {}), conns_before.get(LISTENER, {})
    for k in ("out_msgs", "out_bytes"):
        server[k] -= mine.get(k, 0) - mine_before.get(k, 0)
    return server


def delta(after: Counter, before: Counter) -> Counter:
    return Counter({k: after[k] - before.get(k, 0) for k in after})


async def level(
    listener: Listener, monitoring: int, market: Market, program_id: str, buyers: int, n: int
) -> None:
    learners = await mint_learners(market, n)
    # The idle rate (pull requests expiring, heartbeats, relay polls) just before the level.
    idle_before, idle_varz, idle_conns = listener.snapshot(), varz(monitoring), connz(monitoring)
    await asyncio.sleep(IDLE_SECONDS)
    idle_after, idle_varz_after = listener.snapshot(), varz(monitoring)
    idle_conns_after = connz(monitoring)
    idle_kinds = delta(idle_after[0], idle_before[0])
    idle_server = server_counts(idle_varz, idle_varz_after, idle_conns, idle_conns_after)
    before, before_varz, before_conns = listener.snapshot(), varz(monitoring), connz(monitoring)
    started = time.monotonic()
    await run_level(market, program_id, buyers, n, learners)
    await asyncio.sleep(0.5)  # the last acks
    seconds = time.monotonic() - started
    after, after_varz, after_conns = listener.snapshot(), varz(monitoring), connz(monitoring)
    scale = seconds / IDLE_SECONDS
    kinds = delta(after[0], before[0])
    whose = delta(after[1], before[1])
    sizes = delta(after[2], before[2])
    print(f"\n{buyers} buyer(s), {n} purchases in {seconds:.1f} s: per purchase, net of idle")
    for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1]):
        net = (count - idle_kinds.get(kind, 0) * scale) / n
        print(f"  {kind:34} {net:7.2f}  ({sizes[kind] / max(count, 1):5.0f} B each)")
        for (k, who), c in sorted(whose.items()):
            if k == kind and who and c:
                print(f"      {who:40} {c / n:7.2f}")
    print(f"  idle: {', '.join(f'{k} {v / IDLE_SECONDS:.1f}/s' for k, v in idle_kinds.items())}")
    server = server_counts(before_varz, after_varz, before_conns, after_conns)
    server_net = {k: (v - idle_server[k] * scale) / n for k, v in server.items()}
    print(
        "  server /varz per purchase (listener's copies out, net of idle): "
        + ", ".join(f"{k} {v:.1f}" for k, v in server_net.items())
    )
    print("  by connection (in = sent by the client, out = to it), per purchase:")
    for name, now in sorted(after_conns.items()):
        if name == LISTENER:
            continue
        then = before_conns.get(name, Counter())
        d = {k: (now[k] - then.get(k, 0)) / n for k in now}
        if d["in_msgs"] or d["out_msgs"]:
            print(
                f"      {name:28} in {d['in_msgs']:6.2f} msgs {d['in_bytes']:7.0f} B, "
                f"out {d['out_msgs']:6.2f} msgs {d['out_bytes']:7.0f} B"
            )


async def measure(url: str, monitoring: int, levels: list[int], purchases: int, label: str) -> None:
    listener = Listener()
    nc = await listener.start(url)
    try:
        async with Market.connect(label, max(levels) * 2) as market:
            program_id = await market.program()
            await run_level(market, program_id, 1, 20)  # warm-up
            for buyers in levels:
                await level(listener, monitoring, market, program_id, buyers, purchases)
    finally:
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,32", help="buyers per level, comma-separated")
    parser.add_argument("--purchases", type=int, default=200)
    parser.add_argument("--pipeline", action="store_true", help="the pipeline's too")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",") if n.strip()]
    monitoring = free_port()
    options = StackOptions(log_level="INFO", nats_monitoring_port=monitoring)
    with (
        tempfile.TemporaryDirectory(prefix="upskill-messages-") as tmp,
        Stack(Path(tmp) / "stack", options=options) as stack,
    ):
        print("== ours")
        asyncio.run(measure(stack.nats_url, monitoring, levels, args.purchases, stack.gateway_url))
        if args.pipeline:
            with Pipeline(stack.database, stack.nats_url, Path(tmp) / "pipeline-logs") as pipe:
                print("\n== the logic-free pipeline (ours idle on the same server)")
                asyncio.run(measure(stack.nats_url, monitoring, levels, args.purchases, pipe.url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
