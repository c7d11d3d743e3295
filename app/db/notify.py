"""Wake idle workers as soon as a task is queued (PostgreSQL LISTEN/NOTIFY), instead of waiting a poll.

Taken from the established PostgreSQL job queues (procrastinate, pgqueuer, Oban's Postgres notifier): the
producer sends `NOTIFY` in the transaction that inserts the job, so it is delivered at commit; each worker
keeps one dedicated connection that LISTENs and sets an event; polling stays as the safety net (a lost
notification or a task whose lease expired is still found at the next poll). SQLite has no such channel:
workers there simply poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

CHANNEL = "pcap_analyzer_tasks"
log = logging.getLogger("app.db.notify")


async def announce_task(conn: AsyncConnection) -> None:
    """Inside the inserting transaction: tell listening workers (delivered on commit; PostgreSQL only)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_notify(CHANNEL, "")))


async def listen_for_tasks(engine: AsyncEngine, wakeup: asyncio.Event, stop: asyncio.Event) -> None:
    """Hold a LISTEN connection until `stop`; every notification sets `wakeup`. Reconnects with backoff."""
    if engine.dialect.name != "postgresql":
        return
    import asyncpg

    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    delay = 1.0
    while not stop.is_set():
        conn = None
        try:
            conn = await asyncpg.connect(dsn, timeout=10)
            await conn.add_listener(CHANNEL, lambda *_: wakeup.set())
            delay = 1.0
            wakeup.set()  # anything queued while we were not listening
            while not stop.is_set() and not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=5)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("task notifications unavailable (%s); polling only, retrying in %.0f s", exc, delay)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 30.0)
