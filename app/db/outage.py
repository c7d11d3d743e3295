"""Telling a database that is away or saturated (retry later: 503) from a real bug (500).

Used by the API's error handlers, the health check and the worker's write retries.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

# SQLSTATE classes of a server that is going away or not there yet: 08 connection exception,
# 57P01-57P03 admin/crash shutdown and "cannot connect now" (starting up), 53 insufficient resources.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53")
_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return seen


def is_pool_busy(exc: BaseException) -> bool:
    """Every pooled connection is in use (or SQLite's writer lock is held): the database is up but busy."""
    for item in _chain(exc):
        if isinstance(item, sa_exc.TimeoutError):  # QueuePool limit reached, connection timed out
            return True
        if isinstance(item, sqlite3.OperationalError) and any(w in str(item).lower() for w in _BUSY_WORDS):
            return True
        if "database is locked" in str(item).lower() and isinstance(item, sa_exc.OperationalError):
            return True
    return False


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached, is restarting, or dropped our connection: worth a retry."""
    for item in _chain(exc):
        if isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated:
            return True
        if isinstance(item, (ConnectionError, TimeoutError)):
            return True
        if isinstance(item, OSError) and item.errno is not None:
            return True
        sqlstate = getattr(item, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        name = type(item).__name__
        # asyncpg's client-side connection errors carry no SQLSTATE
        if name in ("ConnectionDoesNotExistError", "InterfaceError", "InternalClientError") and (
            "connection" in str(item).lower() or "closed" in str(item).lower()
        ):
            return True
        if name == "CannotConnectNowError":
            return True
    return is_pool_busy(exc)
