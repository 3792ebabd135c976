"""`make bench` splits one PostgreSQL server's processes between the two stacks on it (ours
and the logic-free pipeline) by the database each backend serves, read from the title the
server gives the process. The titles here are a real server's."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg
import psutil

from benchmarks.__main__ import backend_database


async def test_a_backend_is_known_by_the_database_it_serves(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        # The title is updated as the backend works; an idle one names its database too.
        assert backend_database(psutil.Process(pid)) == urlsplit(fresh_database).path[1:]
    finally:
        await conn.close()


async def test_the_servers_own_processes_serve_no_one_database(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        server = psutil.Process(pid).parent()
        others = [p for p in server.children() if p.pid != pid]
        kinds = await conn.fetch(
            "SELECT pid, backend_type FROM pg_stat_activity WHERE backend_type <> 'client backend'"
        )
    finally:
        await conn.close()
    own = {row["pid"] for row in kinds}
    # The server's own processes (checkpointer, WAL writer, ...) count for every stack.
    assert own, "the server shows no background processes"
    assert all(backend_database(p) is None for p in others if p.pid in own)
