"""Regenerate the committed Python stubs in gen/ from protos/ (run by `make protos`).

The output must be byte-for-byte reproducible, since CI fails when gen/ is stale:
inputs are sorted and every package gets an empty __init__.py.
"""

from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "gen"
INCLUDES = [ROOT / "protos", ROOT / "third_party" / "protovalidate"]


def main() -> int:
    for stale in ("upskill", "buf"):
        shutil.rmtree(OUT / stale, ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    sources = sorted(str(p.relative_to(inc)) for inc in INCLUDES for p in inc.rglob("*.proto"))
    wkt = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        *(f"-I{inc}" for inc in INCLUDES),
        f"-I{wkt}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        *sources,
    ]
    if protoc.main(args) != 0:
        return 1
    for package in sorted({p.parent for p in OUT.rglob("*_pb2.py")}):
        while package != OUT:
            (package / "__init__.py").touch()
            package = package.parent
    print(f"generated {len(sources)} protos into {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
