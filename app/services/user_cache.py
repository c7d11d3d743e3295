"""A short per-process cache of the account rows the authentication reads on every request.

The bearer token is checked on every request, and with it the account (blocked? approved? token version):
one query per request, the dearest part of a status poll. Rows are reused for AUTH_CACHE_SECONDS (1 s by
default, 0 turns the cache off). Any write to the `users` table through this process's engine empties
the cache at once (and again at commit), so a sign-out, block or password change handled here applies to
the very next request; another web process sees it within AUTH_CACHE_SECONDS. A lookup that overlapped
a write is not kept (generation counter), so the cache never holds a row older than the last write.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import users
from app.models.user import User

_MAX_ENTRIES = 10_000


class UserCache:
    """user id -> (User, when read), valid for `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.generation = 0  # bumped by every users write: a lookup older than it is not stored
        self._rows: dict[str, tuple[User, float]] = {}

    def get(self, user_id: str) -> User | None:
        hit = self._rows.get(user_id)
        if hit is None or time.monotonic() - hit[1] >= self.ttl:
            return None
        return hit[0]

    def put(self, user_id: str, user: User, generation: int) -> None:
        if self.ttl <= 0 or generation != self.generation:
            return
        if len(self._rows) >= _MAX_ENTRIES:
            self._rows.clear()
        self._rows[user_id] = (user, time.monotonic())

    def clear(self) -> None:
        self.generation += 1
        self._rows.clear()


def _writes_users(statement: Any) -> bool:
    if isinstance(statement, (sa.Update, sa.Delete, sa.Insert)):
        return statement.table is users
    if isinstance(statement, sa.TextClause):
        text = statement.text.lstrip().lower()
        return not text.startswith("select") and "users" in text
    return False


def clear_on_user_writes(engine: AsyncEngine, cache: UserCache) -> None:
    """Empty `cache` whenever a statement on `engine` writes `users`, and again when it commits."""

    @sa.event.listens_for(engine.sync_engine, "after_execute")
    def _after_execute(conn: Any, statement: Any, *_args: Any) -> None:
        if _writes_users(statement):
            conn.info["users_written"] = True
            cache.clear()

    @sa.event.listens_for(engine.sync_engine, "commit")
    def _commit(conn: Any) -> None:
        if conn.info.pop("users_written", False):
            cache.clear()

    @sa.event.listens_for(engine.sync_engine, "rollback")
    def _rollback(conn: Any) -> None:
        conn.info.pop("users_written", None)
