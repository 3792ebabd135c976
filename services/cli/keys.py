"""`upskill keys`: the issuer key lifecycle on the credentials database.

    upskill keys list                                   every key: alg, signs from, withdrawn
    upskill keys schedule --key-file new.pem --from T   publish a key that signs from T
    upskill keys schedule --kid=KID --from T            move a published key's moment
    upskill keys withdraw --reason "..." -- KID         compromised: out of the JWKS, and
                                                        what it signed stops verifying
                                                        ('--' as a KID may start with '-')

Private keys never reach the database: `schedule --key-file` reads the file only to derive
the public key. The service signs with the keys in CREDENTIALS_SIGNING_KEY; of those, the
one whose moment came last signs, so a rotation is: generate (`upskill keygen`), schedule,
add the key to CREDENTIALS_SIGNING_KEY next to the current one, restart, and at the moment
the new key takes over without another restart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from services.credentials.keys import IssuerKey


class KeysError(Exception):
    """A user-facing failure of a keys command."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], data_dir: Path) -> None:
    keys = sub.add_parser("keys", help="list, schedule and withdraw credential signing keys")
    keys.add_argument(
        "--database-url",
        default=None,
        help="the credentials database (default: CREDENTIALS_DATABASE_URL, else the "
        "running `upskill dev`)",
    )
    keys.add_argument("--data-dir", type=Path, default=data_dir)
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every key that signs, signed or was withdrawn")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    schedule = actions.add_parser("schedule", help="set from when a key signs new credentials")
    which = schedule.add_mutually_exclusive_group(required=True)
    which.add_argument("--key-file", type=Path, help="a private key (PEM/JWK) to publish")
    # A kid that starts with '-' (one base64url thumbprint in 64) would be taken for an
    # option after a separate `--kid`; joined to it with '=' it is always the value.
    which.add_argument(
        "--kid",
        help="a key already published (its thumbprint); write --kid=KID when it starts with '-'",
    )
    schedule.add_argument(
        "--from", dest="signs_from", required=True, type=_moment, help="ISO 8601 with offset"
    )
    withdraw = actions.add_parser(
        "withdraw", help="withdraw a compromised key: what it signed stops verifying"
    )
    # A kid is a base64url thumbprint: one in 64 starts with '-', which argparse takes for an
    # option unless it comes after '--' (POSIX): `withdraw --reason leak -- -hL1gy...`.
    withdraw.add_argument("kid", help="the key's id; after '--' when it starts with '-'")
    withdraw.add_argument("--reason", required=True)


def _moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give the moment with a UTC offset, e.g. ...T00:00Z")
    return value.astimezone(UTC)


def run(args: argparse.Namespace, dsn: str) -> int:
    return asyncio.run(_run(args, dsn))


async def _run(args: argparse.Namespace, dsn: str) -> int:
    import asyncpg

    from services.credentials import repository

    conn = await asyncpg.connect(dsn)
    try:
        if args.keys_command == "list":
            for record in await repository.keys(conn, with_counts=True):
                row = {
                    "kid": record.kid,
                    "alg": record.alg,
                    "signs_from": record.signs_from.isoformat(),
                    "withdrawn_at": record.withdrawn_at.isoformat()
                    if record.withdrawn_at
                    else None,
                    "withdrawn_reason": record.withdrawn_reason or None,
                    "credentials": record.credentials,
                }
                if args.json:
                    print(json.dumps(row))
                else:
                    state = f"WITHDRAWN {row['withdrawn_at']}" if record.withdrawn_at else ""
                    print(
                        f"{record.kid}  {record.alg:<6} signs from {row['signs_from']}  "
                        f"{record.credentials} credentials  {state}".rstrip()
                    )
            return 0
        if args.keys_command == "schedule":
            if args.key_file is not None:
                try:
                    key = IssuerKey.from_setting(args.key_file.read_text())
                except (OSError, ValueError) as exc:
                    raise KeysError(
                        f"cannot read a signing key from {args.key_file}: {exc}"
                    ) from None
                if not await repository.register_key(
                    conn, key.kid, key.alg, key.public_jwk(), signs_from=args.signs_from
                ) and not await repository.schedule_key(conn, key.kid, args.signs_from):
                    raise KeysError(f"key {key.kid} is withdrawn; generate a new one")
                kid = key.kid
            else:
                kid = args.kid
                if not await repository.schedule_key(conn, kid, args.signs_from):
                    raise KeysError(f"no published, unwithdrawn key {kid}")
            print(f"{kid} signs from {args.signs_from.isoformat()} (once the service holds it)")
            return 0
        if args.keys_command == "withdraw":
            reason = args.reason.strip()
            if not reason:
                raise KeysError("give a reason for the withdrawal")
            withdrawn = await repository.withdraw_key(conn, args.kid, reason)
            if withdrawn is None:
                raise KeysError(f"no key {args.kid}")
            signed = await conn.fetchval(
                "SELECT count(*) FROM credentials WHERE kid = $1", withdrawn.kid
            )
            print(
                f"{withdrawn.kid} withdrawn at {withdrawn.withdrawn_at}: it left the JWKS and "
                f"the {signed} credentials it signed now verify as UNKNOWN_KEY. "
                "Remove it from CREDENTIALS_SIGNING_KEY."
            )
            return 0
    finally:
        await conn.close()
    raise KeysError(f"unknown keys action {args.keys_command}")
