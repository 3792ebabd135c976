"""Settings from the environment (12-factor): a missing required one fails fast, by name."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass


class ConfigError(ValueError):
    """A setting is missing or unusable: the process cannot start."""


class MissingSettingError(ConfigError):
    """A required environment variable is unset or empty."""

    def __init__(self, name: str, hint: str = "") -> None:
        super().__init__(f"missing required setting {name}" + (f": {hint}" if hint else ""))
        self.name = name


def required(name: str, hint: str = "") -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSettingError(name, hint)
    return value


def optional(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def integer(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = optional(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"setting {name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"setting {name} must be >= {minimum}, got {value}")
    return value


def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = optional(name, default)
    if value not in allowed:
        raise ConfigError(f"setting {name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


@dataclass(frozen=True)
class CommonSettings:
    """What every gRPC service reads: its database, NATS, where it listens, logging."""

    database_url: str
    nats_url: str
    listen_addr: str
    log_level: str
    nats_stream_replicas: int = 1
    """Copies JetStream keeps of each stream (1 on a single server, 3 on a 3-node cluster)."""

    @classmethod
    def from_env(cls, default_port: int) -> CommonSettings:
        return cls(
            database_url=required("DATABASE_URL", "postgresql://user@host:5432/dbname"),
            nats_url=required("NATS_URL", "nats://host:4222"),
            listen_addr=optional("LISTEN_ADDR", f"0.0.0.0:{default_port}"),
            log_level=optional("LOG_LEVEL", "INFO").upper(),
            nats_stream_replicas=stream_replicas(),
        )


# JetStream keeps at most five copies of a stream.
MAX_STREAM_REPLICAS = 5


def stream_replicas() -> int:
    """NATS_STREAM_REPLICAS: 1 (default) up to JetStream's 5. More than the cluster has
    servers is refused when a stream is created or updated at start-up, which fails it too
    (jetstream.replicas_refusal, runtime._start_runtime)."""
    value = integer("NATS_STREAM_REPLICAS", 1, minimum=1)
    if value > MAX_STREAM_REPLICAS:
        raise ConfigError(
            f"setting NATS_STREAM_REPLICAS must be <= {MAX_STREAM_REPLICAS}, got {value}"
        )
    return value


@contextlib.contextmanager
def exit_on_config_error(process: str) -> Iterator[None]:
    """A configuration error ends the process at once with one line naming the setting
    (exit status 2), instead of a traceback."""
    try:
        yield
    except ConfigError as exc:
        print(f"{process}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
