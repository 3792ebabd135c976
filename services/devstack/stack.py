"""The whole system on one machine: embedded (or given) PostgreSQL and NATS, plus the four
services and the gateway as supervised child processes.

`upskill dev` and the end-to-end tests both use it:

    with Stack(tmp_path, options=StackOptions(durable=False)) as stack:   # starts, waits ready
        httpx.get(stack.gateway_url + "/healthz")
        stack.kill_service("payments")          # SIGKILL, for fault tests
        stack.start_service("payments")
        stack.postgres.kill(); stack.postgres.start()   # same port, same data

Every child gets exactly its configuration from `service_env()`, the one place that maps
the topology onto the environment variables each service reads (docker-compose.yml must
agree with it; a test compares them).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import services
from services.common import healthcheck
from services.devstack.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServerError,
    ExternalPostgres,
    PostgresServer,
    free_port,
    parent_death_signal,
    port_is_free,
)

log = logging.getLogger(__name__)

GRPC_SERVICES = ("catalog", "enrollment", "payments", "credentials")
SERVICES = (*GRPC_SERVICES, "gateway")
DEFAULT_PORTS = {
    "catalog": 50051,
    "enrollment": 50052,
    "payments": 50053,
    "credentials": 50054,
    "gateway": 8080,
}
PEER_ADDR_VARS = {
    "catalog": "CATALOG_ADDR",
    "enrollment": "ENROLLMENT_ADDR",
    "payments": "PAYMENTS_ADDR",
    "credentials": "CREDENTIALS_ADDR",
}
# Every variable any service reads: children never inherit these from our own environment,
# they get exactly what service_env() gives them.
CONFIG_VARS = frozenset(
    {
        "DATABASE_URL",
        "NATS_URL",
        "LISTEN_ADDR",
        *PEER_ADDR_VARS.values(),
        "AUTH_MODE",
        "AUTH_JWT_SECRET",
        "AUTH_JWKS_URL",
        "AUTH_ISSUER",
        "AUTH_SERVICE_TOKEN",
        "AUTH_SERVICE_CLIENT_ID",
        "AUTH_SERVICE_CLIENT_SECRET",
        "AUTH_TOKEN_URL",
        "AUTH_AUDIENCE",
        "AUTH_ADMIN_CLAIM",
        "AUTH_ADMIN_VALUE",
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
        "OIDC_DISCOVERY_URL",
        "OIDC_SCOPES",
        "SESSION_SECRET",
        "LOG_LEVEL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "PUBLIC_BASE_URL",
        "PAYMENTS_PROVIDER",
        "STRIPE_API_KEY",
        "STRIPE_API_BASE",
        "STRIPE_WEBHOOK_SECRET",
        "CHECKOUT_TTL_SECONDS",
        "LOCAL_WEBHOOK_URL",
        "PLATFORM_FEE_BPS",
        "REFUND_WINDOW_DAYS",
        "CREDENTIALS_SIGNING_KEY",
        "NATS_STREAM_REPLICAS",
    }
)
# `upskill dev --replicas`: enough to show sharing and balancing on one machine.
MAX_REPLICAS = 8
SECRETS_FILE = "dev-secrets.json"
RUN_FILE = "run.json"  # written by a running `upskill dev`: where its gateway and NATS are
CHECKOUT_TTL_SECONDS = 1800
PLATFORM_FEE_BPS = 1000
PROJECT_ROOT = Path(services.__file__).resolve().parent.parent


class StackError(RuntimeError):
    """The stack could not start, or a service failed; the message says which and why."""


class StackCancelled(StackError):
    """A wait was interrupted because stop was requested (Ctrl-C, SIGTERM)."""


# --------------------------------------------------------------------------- secrets


def _new_signing_key() -> str:
    from services.credentials.keys import IssuerKey

    return IssuerKey.generate().private_pem()


def _signs_by_default(pem: str) -> bool:
    from services.credentials.keys import DEFAULT_ALG, IssuerKey

    try:
        return IssuerKey.from_setting(pem).alg == DEFAULT_ALG
    except ValueError:
        return True  # not ours to judge here: the service names the problem at start-up


@dataclass(frozen=True)
class DevSecrets:
    """The development secrets, generated once and kept in the data directory."""

    jwt_secret: str
    stripe_webhook_secret: str
    signing_key_pem: str

    @classmethod
    def generate(cls) -> DevSecrets:
        webhook = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        return cls(
            jwt_secret=secrets.token_urlsafe(48),
            stripe_webhook_secret=f"whsec_{webhook}",
            signing_key_pem=_new_signing_key(),
        )

    @classmethod
    def load(cls, path: Path) -> DevSecrets:
        try:
            raw = json.loads(path.read_text())
            return cls(
                jwt_secret=raw["AUTH_JWT_SECRET"],
                stripe_webhook_secret=raw["STRIPE_WEBHOOK_SECRET"],
                signing_key_pem=raw["CREDENTIALS_SIGNING_KEY"],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StackError(f"cannot read dev secrets from {path}: {exc!r}") from exc

    @classmethod
    def load_or_create(cls, data_dir: Path) -> DevSecrets:
        path = data_dir / SECRETS_FILE
        if path.exists():
            loaded = cls.load(path)
            if not _signs_by_default(loaded.signing_key_pem):
                # A data dir from before ES256 holds an Ed25519 key: rotate to the default
                # type. The old key stays published in the database, so what it signed
                # still verifies.
                loaded = replace(loaded, signing_key_pem=_new_signing_key())
                loaded.save(path)
            return loaded
        data_dir.mkdir(parents=True, exist_ok=True)
        created = cls.generate()
        created.save(path)
        return created

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.as_env(), f, indent=2)
            f.write("\n")
        tmp.replace(path)

    def as_env(self) -> dict[str, str]:
        return {
            "AUTH_JWT_SECRET": self.jwt_secret,
            "STRIPE_WEBHOOK_SECRET": self.stripe_webhook_secret,
            "CREDENTIALS_SIGNING_KEY": self.signing_key_pem,
        }


# --------------------------------------------------------------------------- environment


def service_env(
    service: str,
    *,
    database_url: str,
    nats_url: str,
    peer_addrs: Mapping[str, str],
    listen_addr: str,
    public_base_url: str,
    secrets: DevSecrets,
    gateway_url: str = "",
    log_level: str = "INFO",
    otel_endpoint: str = "",
) -> dict[str, str]:
    """Exactly the environment variables `service` reads, and nothing else.

    `database_url` is that service's own database (ignored for the gateway), `peer_addrs`
    maps each gRPC service name to the host:port others dial, `listen_addr` is where
    `service` itself listens, `gateway_url` is where payments' local provider posts its
    webhooks (default: `public_base_url`).
    """
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}: expected one of {', '.join(SERVICES)}")
    public = public_base_url.rstrip("/")
    env = {
        "LISTEN_ADDR": listen_addr,
        "AUTH_MODE": "dev",
        "AUTH_JWT_SECRET": secrets.jwt_secret,
        "LOG_LEVEL": log_level,
    }
    if otel_endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otel_endpoint
    if service == "gateway":
        env |= {PEER_ADDR_VARS[name]: peer_addrs[name] for name in GRPC_SERVICES}
        env["PUBLIC_BASE_URL"] = public
        return env
    if not database_url:
        raise ValueError(f"{service} needs a database_url")
    env |= {"DATABASE_URL": database_url, "NATS_URL": nats_url}
    if service == "enrollment":
        env |= {
            "CATALOG_ADDR": peer_addrs["catalog"],
            "PAYMENTS_ADDR": peer_addrs["payments"],
            "PUBLIC_BASE_URL": public,
        }
    elif service == "payments":
        env |= {
            # Provider staff's memberships (services.common.memberships).
            "CATALOG_ADDR": peer_addrs["catalog"],
            "PAYMENTS_PROVIDER": "local",
            "STRIPE_WEBHOOK_SECRET": secrets.stripe_webhook_secret,
            "CHECKOUT_TTL_SECONDS": str(CHECKOUT_TTL_SECONDS),
            "PUBLIC_BASE_URL": public,
            "LOCAL_WEBHOOK_URL": f"{(gateway_url or public).rstrip('/')}/webhooks/stripe",
            "PLATFORM_FEE_BPS": str(PLATFORM_FEE_BPS),
        }
    elif service == "credentials":
        env |= {
            "CREDENTIALS_SIGNING_KEY": secrets.signing_key_pem,
            "PUBLIC_BASE_URL": public,
            "CATALOG_ADDR": peer_addrs["catalog"],
        }
    return env


# --------------------------------------------------------------------------- logs

_COLOURS = {
    "catalog": "36",
    "enrollment": "35",
    "payments": "33",
    "credentials": "32",
    "gateway": "34",
}
_STANDARD_FIELDS = {"ts", "level", "service", "logger", "msg", "trace_id", "span_id", "exc"}


def render_log_line(line: str) -> str:
    """A JSON log line as `HH:MM:SS.mmm LEVEL msg key=value`, anything else unchanged."""
    stripped = line.rstrip("\n")
    if not stripped.startswith("{"):
        return stripped
    try:
        record = json.loads(stripped)
    except ValueError:
        return stripped
    if not isinstance(record, dict) or "msg" not in record:
        return stripped
    ts = str(record.get("ts", ""))
    clock = ts[11:23] if len(ts) >= 23 else ts
    extras = " ".join(f"{k}={v}" for k, v in record.items() if k not in _STANDARD_FIELDS)
    text = f"{clock} {record.get('level', '')!s:<7} {record['msg']}"
    if extras:
        text += f"  {extras}"
    if record.get("exc"):
        text += "\n" + str(record["exc"])
    return text


class _LogSink:
    """Where a child's output goes: its log file, a short in-memory tail for error
    messages and, for `upskill dev`, the terminal prefixed by the service name."""

    _print_lock = threading.Lock()

    def __init__(self, name: str, path: Path, echo: IO[str] | None) -> None:
        self.name = name
        self.path = path
        self.tail: collections.deque[str] = collections.deque(maxlen=60)
        self._echo = echo
        colour = echo is not None and echo.isatty() and not os.environ.get("NO_COLOR")
        label = f"{name:<11}|"
        self._prefix = (
            f"\x1b[{_COLOURS.get(service_of(name), '0')}m{label}\x1b[0m " if colour else label + " "
        )

    def pump(self, stream: IO[bytes]) -> None:
        with self.path.open("ab") as out:
            for raw in iter(stream.readline, b""):
                out.write(raw)
                out.flush()
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.tail.append(line)
                if self._echo is not None:
                    rendered = render_log_line(line).replace("\n", "\n" + self._prefix)
                    with self._print_lock:
                        self._echo.write(self._prefix + rendered + "\n")
                        self._echo.flush()
        stream.close()

    def tail_text(self, lines: int = 30) -> str:
        recent = list(self.tail)[-lines:]
        return "\n".join(f"    {line}" for line in recent) or "    (no output)"


# --------------------------------------------------------------------------- processes


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    sink: _LogSink
    reader: threading.Thread


@dataclass
class StackOptions:
    durable: bool = True
    """fsync on for the embedded PostgreSQL (False: fast, for throw-away test data)."""
    log_level: str = "INFO"
    prefer_default_ports: bool = False
    """Use 50051-50054 and 8080 when free (upskill dev); otherwise free ports."""
    gateway_port: int | None = None
    """A fixed gateway port; an error when it is taken."""
    echo_logs: IO[str] | None = None
    """Print children's logs here, prefixed by service name (upskill dev: sys.stdout)."""
    auto_restart: bool = False
    """Restart a child that died unexpectedly (in poll()/supervise()/wait_ready())."""
    crash_limit: int = 5
    crash_window_seconds: float = 60.0
    stop_grace_seconds: float = 10.0
    restart_infra_timeout_seconds: float = 60.0
    """How long a restarted PostgreSQL or NATS may take to answer (crash recovery)."""
    database_prefix: str = "upskill"
    """Databases are <prefix>_<service>: lets several stacks share one server."""
    env_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per-service variables applied on top of service_env() (tests: short TTLs...)."""
    otel_endpoint: str = ""
    command: Callable[[str], list[str]] | None = None
    """argv for a service; default [sys.executable, -m, services.<name>]."""
    nats_monitoring_port: int | None = None
    """The embedded NATS's HTTP monitoring port (/varz, /connz: benchmarks.messages)."""


class Stack:
    """PostgreSQL, NATS, four services and the gateway on this machine, on free ports."""

    def __init__(
        self,
        base_dir: Path,
        *,
        database_url: str | None = None,
        nats_url: str | None = None,
        options: StackOptions | None = None,
        replicas: int = 1,
    ) -> None:
        if not 1 <= replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be between 1 and {MAX_REPLICAS}, got {replicas}")
        self.base_dir = Path(base_dir).absolute()
        self.options = options or StackOptions()
        self.replicas = replicas
        self.postgres: EmbeddedPostgres | None = None
        self.nats: EmbeddedNats | None = None
        self._external_dsn = database_url or None
        self._external_nats = nats_url or None
        self._pg: PostgresServer | None = None
        self._nats_url = ""
        self.secrets: DevSecrets | None = None
        self.ports: dict[str, int] = {}
        self.database_urls: dict[str, str] = {}
        self._children: dict[str, _Child] = {}
        self._wanted: set[str] = set()
        self._crashes: dict[str, list[float]] = {}
        self._restart_at: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self._sinks: dict[str, _LogSink] = {}
        self._cancel = threading.Event()
        self._force = threading.Event()
        self._lock = threading.RLock()
        self._infra_started = False
        self._closing = False

    # -- topology

    @property
    def nats_url(self) -> str:
        self._require_infra()
        return self._nats_url

    @property
    def database(self) -> PostgresServer:
        """The PostgreSQL server in use (embedded or external)."""
        self._require_infra()
        assert self._pg is not None
        return self._pg

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self._port('gateway')}"

    def addr(self, service: str) -> str:
        """host:port where `service` (an instance name: `catalog`, `catalog-2`...) listens."""
        return f"127.0.0.1:{self._port(service)}"

    def instances(self, service: str) -> list[str]:
        """The instance names of `service`: itself, then `<service>-2`... for replicas (the
        gateway is one process: it is what balances over the others)."""
        if service == "gateway" or self.replicas == 1:
            return [service]
        return [service, *(f"{service}-{i}" for i in range(2, self.replicas + 1))]

    def target(self, service: str) -> str:
        """The gRPC target callers dial for `service`: one address, or all of its replicas'
        (gRPC's ipv4: scheme with several addresses, spread by the round_robin policy
        services.common.grpc_client sets)."""
        addrs = [self.addr(name) for name in self.instances(service)]
        return addrs[0] if len(addrs) == 1 else "ipv4:" + ",".join(addrs)

    def env_for(self, service: str) -> dict[str, str]:
        """The configuration variables instance `service` is started with (service_env +
        overrides for its service, then for the instance itself)."""
        self._require_infra()
        assert self.secrets is not None
        base = service_of(service)
        env = service_env(
            base,
            database_url=self.database_urls.get(base, ""),
            nats_url=self._nats_url,
            peer_addrs={name: self.target(name) for name in GRPC_SERVICES},
            listen_addr=self.addr(service),
            public_base_url=self.gateway_url,
            secrets=self.secrets,
            gateway_url=self.gateway_url,
            log_level=self.options.log_level,
            otel_endpoint=self.options.otel_endpoint,
        )
        env |= dict(self.options.env_overrides.get(base, {}))
        if service != base:
            env |= dict(self.options.env_overrides.get(service, {}))
        return env

    def log_path(self, service: str) -> Path:
        return self.base_dir / "logs" / f"{service}.log"

    def recent_logs(self, service: str, lines: int = 30) -> str:
        sink = self._sinks.get(service)
        return sink.tail_text(lines) if sink else "    (never started)"

    # -- lifecycle

    def start(self, services: Iterable[str] = SERVICES) -> Stack:
        """Start PostgreSQL and NATS (unless external), create the databases, then the
        given services. Does not wait: call wait_ready()."""
        self.start_infra()
        for service in services:
            for name in self.instances(service_of(service)) if service in SERVICES else [service]:
                self.start_service(name)
        return self

    def start_infra(self) -> None:
        if self._infra_started:
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.secrets = DevSecrets.load_or_create(self.base_dir)
        self._assign_ports()
        if self._external_dsn:
            self._pg = ExternalPostgres(self._external_dsn)
        else:
            self.postgres = EmbeddedPostgres(
                self.base_dir / "postgres", durable=self.options.durable
            )
            self.postgres.start()
            self._pg = self.postgres
        if self._external_nats:
            self._nats_url = self._external_nats
        else:
            self.nats = EmbeddedNats(
                self.base_dir / "nats", monitoring_port=self.options.nats_monitoring_port
            )
            self._nats_url = self.nats.start()
        for name in GRPC_SERVICES:
            self.database_urls[name] = self._pg.create_database(
                f"{self.options.database_prefix}_{name}"
            )
        self._infra_started = True

    def start_service(self, name: str) -> None:
        """Start `name` unless it is running (it keeps its port across restarts)."""
        self._check_name(name)
        self._require_infra()
        with self._lock:
            child = self._children.get(name)
            if child is not None and child.proc.poll() is None:
                return
            if child is not None:
                self._reap(child)
            self._spawn(name)
            self._wanted.add(name)
            self.failed.pop(name, None)
            self._restart_at.pop(name, None)

    def stop_service(
        self, name: str, sig: int = signal.SIGTERM, timeout: float | None = None
    ) -> int | None:
        """Send `sig`, wait (default grace) and SIGKILL if needed; returns the exit status."""
        self._check_name(name)
        with self._lock:
            self._wanted.discard(name)
            self._restart_at.pop(name, None)
            child = self._children.get(name)
            if child is None:
                return None
            if child.proc.poll() is None:
                _signal_group(child.proc, sig)
            grace = self.options.stop_grace_seconds if timeout is None else timeout
            try:
                child.proc.wait(grace)
            except subprocess.TimeoutExpired:
                log.warning("%s did not exit within %.0fs of signal %d: killing", name, grace, sig)
                _signal_group(child.proc, signal.SIGKILL)
            code = child.proc.wait()
            self._reap(child)
            return code

    def kill_service(self, name: str) -> None:
        """SIGKILL `name` (a crash, for fault tests); it is not restarted automatically."""
        self.stop_service(name, signal.SIGKILL, timeout=30)

    def restart_service(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Stop (SIGTERM) and start `name` again; with `wait`, until it is ready."""
        self.stop_service(name)
        self.start_service(name)
        if wait:
            self.wait_ready(timeout, services=[name])

    def is_running(self, name: str) -> bool:
        child = self._children.get(name)
        return child is not None and child.proc.poll() is None

    def pid(self, name: str) -> int | None:
        child = self._children.get(name)
        return child.proc.pid if child is not None and child.proc.poll() is None else None

    def instance_names(self) -> list[str]:
        """Every service process this stack supervises (see instances())."""
        return [name for name in self._all_instances() if name in self._wanted]

    def running_services(self) -> list[str]:
        return [name for name in self._all_instances() if self.is_running(name)]

    def _all_instances(self) -> list[str]:
        return [name for service in SERVICES for name in self.instances(service)]

    def wait_ready(self, timeout: float = 90.0, services: Iterable[str] | None = None) -> None:
        """Until every given service (default: all started ones) answers its health check:
        gRPC health for the four services; for the gateway GET /readyz and every backend
        healthy through its channels (/health/dependencies). Raises StackError
        naming the service and showing its last log lines when one dies or time runs out."""
        names = list(services) if services is not None else sorted(self._wanted)
        for name in names:
            self._check_name(name)
        deadline = time.monotonic() + timeout
        pending = list(names)
        last_problem: dict[str, str] = {}
        while pending:
            if self._cancel.is_set():
                raise StackCancelled("stop requested")
            self.poll()
            gone = [self.failed[n] for n in ("postgresql", "nats") if n in self.failed]
            if gone:
                raise StackError("\n".join(gone))
            for name in list(pending):
                if name in self.failed:
                    raise StackError(self.failed[name])
                if not self.is_running(name):
                    if self.options.auto_restart and name in self._wanted:
                        last_problem[name] = "restarting"
                        continue
                    child = self._children.get(name)
                    why = f"exit status {child.proc.returncode}" if child else "stopped"
                    raise StackError(
                        f"{name} is not running ({why}); its last output:\n{self.recent_logs(name)}"
                    )
                problem = self._health(name)
                if problem is None:
                    pending.remove(name)
                else:
                    last_problem[name] = problem
            if not pending:
                break
            if time.monotonic() >= deadline:
                details = "\n".join(
                    f"  {name}: {last_problem.get(name, 'not checked')}\n{self.recent_logs(name, 15)}"
                    for name in pending
                )
                raise StackError(f"not ready after {timeout:.0f}s:\n{details}")
            self._cancel.wait(0.2)

    def poll(self) -> None:
        """Notice children that died; with auto_restart, restart them (with back-off and a
        crash-loop limit, after which the service is reported in `failed`)."""
        now = time.monotonic()
        with self._lock:
            if self.options.auto_restart and self._infra_started and not self._closing:
                self._heal_infra(now)
            for name in sorted(self._wanted):
                child = self._children.get(name)
                if child is None or child.proc.poll() is None:
                    continue
                if name in self._restart_at:
                    if now >= self._restart_at[name] and self.options.auto_restart:
                        log.warning("restarting %s", name)
                        self._reap(child)
                        self._spawn(name)
                        del self._restart_at[name]
                    continue
                code = child.proc.returncode
                if not self.options.auto_restart:
                    continue
                recent = self._count_crash(name, now)
                if len(recent) > self.options.crash_limit:
                    self._wanted.discard(name)
                    self.failed[name] = (
                        f"{name} crashed {len(recent)} times within "
                        f"{self.options.crash_window_seconds:.0f}s (last exit status {code}); "
                        f"giving up. Its last output:\n{self.recent_logs(name)}"
                    )
                    log.error("%s", self.failed[name])
                    self._reap(child)
                    continue
                delay = _restart_delay(len(recent))
                log.warning(
                    "%s exited unexpectedly with status %s; restarting in %.1fs (crash %d/%d)",
                    name,
                    code,
                    delay,
                    len(recent),
                    self.options.crash_limit,
                )
                self._restart_at[name] = now + delay

    def supervise(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Poll children until `stop` is set (upskill dev's main loop). Raises StackError
        as soon as anything is given up on (crash-loop limit): a stack with a part missing
        must not look alive, so that whoever supervises us (a person, systemd, CI) acts."""
        while not stop.wait(interval):
            self.poll()
            if self.failed:
                raise StackError("\n".join(self.failed.values()))

    # -- PostgreSQL and NATS

    def _infra(self) -> list[tuple[str, EmbeddedPostgres | EmbeddedNats]]:
        found: list[tuple[str, EmbeddedPostgres | EmbeddedNats]] = []
        if self.postgres is not None:
            found.append(("postgresql", self.postgres))
        if self.nats is not None:
            found.append(("nats", self.nats))
        return found

    def _heal_infra(self, now: float) -> None:
        """Restart an embedded PostgreSQL or NATS that died (same port, same data), with
        the services' back-off and crash-loop limit. Services ride the outage out on their
        own (they wait for their dependencies), so nothing else is restarted."""
        for name, server in self._infra():
            if name in self.failed or server.is_running():
                continue
            due = self._restart_at.get(name)
            if due is None:
                recent = self._count_crash(name, now)
                if len(recent) > self.options.crash_limit:
                    self.failed[name] = (
                        f"{name} died {len(recent)} times within "
                        f"{self.options.crash_window_seconds:.0f}s; giving up. Its log: "
                        f"{server.log_path}"
                    )
                    log.error("%s", self.failed[name])
                    continue
                delay = 0.0 if len(recent) == 1 else _restart_delay(len(recent) - 1)
                log.warning(
                    "%s exited unexpectedly; restarting in %.1fs (crash %d/%d)",
                    name,
                    delay,
                    len(recent),
                    self.options.crash_limit,
                )
                self._restart_at[name] = due = now + delay
            if now < due:
                continue
            del self._restart_at[name]
            log.warning("restarting %s", name)
            try:
                server.kill()  # reap what is left of it and release its data directory
                server.start(timeout=self.options.restart_infra_timeout_seconds)
            except EmbeddedServerError as exc:
                log.error("%s did not start again: %s", name, exc)
                # Counted as another crash: the next poll schedules a retry or gives up.

    def _count_crash(self, name: str, now: float) -> list[float]:
        recent = [
            t for t in self._crashes.get(name, []) if now - t < self.options.crash_window_seconds
        ]
        recent.append(now)
        self._crashes[name] = recent
        return recent

    def request_stop(self, *, force: bool = False) -> None:
        """Interrupt waits (from a signal handler); `force` also skips the stop grace."""
        self._cancel.set()
        if force:
            self._force.set()

    def close(self) -> None:
        """SIGTERM every child, wait (grace), SIGKILL stragglers, then stop NATS and
        PostgreSQL cleanly. Safe to call twice."""
        with self._lock:
            self._closing = True
            self._wanted.clear()
            self._restart_at.clear()
            children = list(self._children.values())
            for child in children:
                if child.proc.poll() is None:
                    _signal_group(child.proc, signal.SIGTERM)
            deadline = time.monotonic() + self.options.stop_grace_seconds
            while any(c.proc.poll() is None for c in children):
                if time.monotonic() >= deadline or self._force.is_set():
                    for child in children:
                        if child.proc.poll() is None:
                            log.warning("%s still running after SIGTERM: killing it", child.name)
                            _signal_group(child.proc, signal.SIGKILL)
                    break
                time.sleep(0.05)
            for child in children:
                child.proc.wait()
                self._reap(child)
            if self.nats is not None:
                if self._force.is_set():
                    self.nats.kill()
                else:
                    self.nats.stop()
            if self.postgres is not None:
                self.postgres.stop(timeout=5 if self._force.is_set() else 30)
            self._infra_started = False
            self._closing = False

    def __enter__(self) -> Stack:
        try:
            self.start()
            self.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals

    def _check_name(self, name: str) -> None:
        if name not in self._all_instances():
            raise ValueError(
                f"unknown service {name!r}: expected one of {', '.join(self._all_instances())}"
            )

    def _require_infra(self) -> None:
        if not self._infra_started and self.secrets is None:
            raise StackError("the stack is not started: call start() or start_infra() first")

    def _port(self, service: str) -> int:
        self._check_name(service)
        if not self.ports:
            self._assign_ports()
        return self.ports[service]

    def _assign_ports(self) -> None:
        if self.ports:
            return
        gateway = self.options.gateway_port
        if gateway is not None and not port_is_free(gateway):
            raise StackError(f"port {gateway} for the gateway is already in use")
        for name in self._all_instances():
            if name == "gateway" and gateway is not None:
                self.ports[name] = gateway
            elif name not in DEFAULT_PORTS:
                self.ports[name] = free_port()  # replicas: the defaults are the first's
            elif self.options.prefer_default_ports and port_is_free(DEFAULT_PORTS[name]):
                self.ports[name] = DEFAULT_PORTS[name]
            else:
                self.ports[name] = free_port()
                if self.options.prefer_default_ports:
                    log.warning(
                        "port %d is taken: %s listens on %d instead",
                        DEFAULT_PORTS[name],
                        name,
                        self.ports[name],
                    )

    def _command(self, name: str) -> list[str]:
        if self.options.command is not None:
            return self.options.command(service_of(name))
        return [sys.executable, "-m", f"services.{service_of(name)}"]

    def _spawn(self, name: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
        env |= self.env_for(name)
        env["PYTHONUNBUFFERED"] = "1"
        path = self.log_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        sink = self._sinks.get(name) or _LogSink(name, path, self.options.echo_logs)
        self._sinks[name] = sink
        proc = subprocess.Popen(
            self._command(name),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=PROJECT_ROOT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
            preexec_fn=parent_death_signal(signal.SIGTERM),
        )
        assert proc.stdout is not None
        reader = threading.Thread(
            target=sink.pump, args=(proc.stdout,), name=f"logs-{name}", daemon=True
        )
        reader.start()
        self._children[name] = _Child(name, proc, sink, reader)
        log.info("started %s (pid %d) on %s", name, proc.pid, self.addr(name))

    def _reap(self, child: _Child) -> None:
        child.proc.wait()
        child.reader.join(timeout=5)
        if self._children.get(child.name) is child:
            del self._children[child.name]

    def _health(self, name: str) -> str | None:
        """None when healthy, else what is wrong."""
        if name == "gateway":
            import httpx

            try:
                response = httpx.get(f"{self.gateway_url}/readyz", timeout=2, trust_env=False)
            except httpx.HTTPError as exc:
                return f"GET /readyz: {exc!r}"
            if response.status_code != 200:
                return f"GET /readyz: {response.status_code} {response.text[:300]}"
            # Ready to use, for `upskill dev` and the tests: the gateway itself is ready and
            # reaches every backend over its own channels (which may still be reconnecting
            # to a service that just restarted).
            try:
                seen = httpx.get(
                    f"{self.gateway_url}/health/dependencies", timeout=5, trust_env=False
                )
                report = seen.json()
            except (httpx.HTTPError, ValueError) as exc:
                return f"GET /health/dependencies: {exc!r}"
            if report.get("status") != "ok":
                return f"GET /health/dependencies: {report}"
            return None
        return healthcheck.check(self.addr(name))


def service_of(instance: str) -> str:
    """The service an instance name belongs to: `catalog-2` -> `catalog`."""
    head, _, tail = instance.rpartition("-")
    return head if head in SERVICES and tail.isdigit() else instance


def _restart_delay(crashes: int) -> float:
    """Seconds before restarting something that crashed `crashes` times lately."""
    return min(10.0, 0.5 * 2 ** (crashes - 1))


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def read_run_file(data_dir: Path) -> dict[str, Any] | None:
    """What a running `upskill dev` wrote about itself (gateway_url, nats_url...), or None
    when there is none or its process is gone."""
    path = data_dir / RUN_FILE
    try:
        info = json.loads(path.read_text())
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return info if isinstance(info, dict) else None
