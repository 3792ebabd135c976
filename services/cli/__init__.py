"""The `upskill` command: dev stack, demo, tokens, keys, dead letters."""

import os

# This process runs gRPC (health checks) and forks children. gRPC's fork handlers, run in
# a child forked while gRPC threads are busy, can abort it before it execs; the children
# exec a fresh interpreter, so they need none of them. Read by gRPC when it is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
