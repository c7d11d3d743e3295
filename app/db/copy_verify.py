"""Row counts and checksums of the copied tables, computed the same way on SQLite and PostgreSQL.

A row is serialised canonically (its values in the table's column order, normalised: UTC ISO timestamps,
UUIDs as text, floats as floats...), hashed with SHA-256, and the hashes of a table are added modulo
2**256: the checksum does not depend on the order the two databases return their rows in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_MOD = 1 << 256
_PLAIN = frozenset({str, int, float, bool})
T = TypeVar("T")


def canonical_value(column: sa.Column[Any], value: Any) -> Any:
    """A JSON-ready form of `value` that is identical whichever database returned it."""
    if value is None or type(value) in _PLAIN:
        if type(value) is int and isinstance(column.type, sa.Float):
            return float(value)
        return value
    if isinstance(value, bool | str):
        return value
    if isinstance(column.type, sa.Float) and isinstance(value, int | Decimal):
        return float(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def canonical_row(table: sa.Table, row: Mapping[str, Any]) -> bytes:
    """The canonical serialisation of one row of `table`: its values in column order, as UTF-8 JSON."""
    values = [canonical_value(c, row[c.name]) for c in table.columns]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()


def row_digest(table: sa.Table, row: Mapping[str, Any]) -> int:
    return int.from_bytes(hashlib.sha256(canonical_row(table, row)).digest(), "big")


@dataclass
class TableSum:
    """Row count and order-independent checksum of a set of rows."""

    rows: int = 0
    total: int = 0

    def add(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        columns = list(table.columns)
        total = self.total
        for row in rows:
            # canonical_row(), inlined: plain values of the common types need no conversion
            values = []
            for column, value in zip(columns, row.values(), strict=True):
                kind = type(value)
                if value is None or kind is str or kind is bool or kind is float:
                    values.append(value)
                else:
                    values.append(canonical_value(column, value))
            encoded = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
            total += int.from_bytes(hashlib.sha256(encoded).digest(), "big")
        self.rows += len(rows)
        self.total = total % _MOD

    @property
    def hexdigest(self) -> str:
        return f"{self.total:064x}"


@dataclass
class TableCheck:
    """The verification result of one table."""

    table: str
    source: TableSum
    target: TableSum

    @property
    def ok(self) -> bool:
        return self.source.rows == self.target.rows and self.source.total == self.target.total


def primary_key(table: sa.Table) -> sa.Column[Any]:
    """The single-column primary key the copy pages by (every table of the schema has one)."""
    columns = list(table.primary_key.columns)
    if len(columns) != 1:
        raise ValueError(f"table {table.name!r} has no single-column primary key; db copy cannot page it")
    return columns[0]


async def keyset_batches(
    conn: AsyncConnection,
    table: sa.Table,
    batch_size: int,
    *,
    after: Any = None,
    columns: Sequence[sa.Column[Any]] | None = None,
    where: sa.ColumnElement[bool] | None = None,
) -> AsyncIterator[list[Mapping[str, Any]]]:
    """Rows of `table` in primary-key order, `batch_size` at a time (one short query per batch)."""
    pk = primary_key(table)
    selected = list(columns) if columns is not None else list(table.columns)
    last = after
    while True:
        query = sa.select(*selected).order_by(pk).limit(batch_size)
        if last is not None:
            query = query.where(pk > last)
        if where is not None:
            query = query.where(where)
        rows = list((await conn.execute(query)).mappings().all())
        if not rows:
            return
        last = rows[-1][pk.name]
        yield rows


async def prefetched(items: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """Yield from `items` while the next one is already being fetched (reading overlaps writing)."""
    pending: asyncio.Future[T | None] = asyncio.ensure_future(anext(items, None))
    try:
        while (item := await pending) is not None:
            pending = asyncio.ensure_future(anext(items, None))
            yield item
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        close = getattr(items, "aclose", None)
        if close is not None:
            with contextlib.suppress(BaseException):
                await close()


async def table_sum(conn: AsyncConnection, table: sa.Table, batch_size: int) -> TableSum:
    """Count and checksum of every row of `table` on one side."""
    total = TableSum()
    async with contextlib.aclosing(prefetched(keyset_batches(conn, table, batch_size))) as stream:
        async for rows in stream:
            total.add(table, rows)
    return total


async def verify_tables(
    source: AsyncConnection,
    target: AsyncConnection,
    tables: Sequence[sa.Table],
    batch_size: int,
    *,
    only_source_keys: bool = False,
) -> list[TableCheck]:
    """Count and checksum every table on both sides.

    With `only_source_keys` (an --append copy) the target side covers only the rows whose primary key
    exists in the source, so rows the target held before do not count as differences.
    """
    checks = []
    for table in tables:
        if only_source_keys:
            pk = primary_key(table)
            src, dst = TableSum(), TableSum()
            async for rows in keyset_batches(source, table, batch_size):
                src.add(table, rows)
                keys = [r[pk.name] for r in rows]
                dst.add(table, (await target.execute(sa.select(table).where(pk.in_(keys)))).mappings().all())
        else:
            src, dst = await asyncio.gather(
                table_sum(source, table, batch_size), table_sum(target, table, batch_size)
            )
        checks.append(TableCheck(table.name, src, dst))
    return checks
