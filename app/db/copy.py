"""`pcap-analyzer db copy`: copy a whole deployment's database (SQLite -> PostgreSQL, or any pair).

The copy streams every table of `app.db.tables.metadata` in dependency order, in keyset-paged batches,
one target transaction per batch. Ids are kept, so report files in DATA_DIR keep matching their rows.

Safety:
- the source is opened read-only (SQLite `mode=ro`, PostgreSQL read-only transactions) and must be at
  the Alembic head; the target is migrated to head and must be empty (unless `append`);
- a marker table in the target (`COPY_MARKER_TABLE`) records, in the same transaction as each batch,
  how far every table got. It exists only while a copy is unfinished: a killed copy leaves it behind,
  and the next run refuses with a message, resumes (`resume`) or empties the target (`restart`);
- a self-referencing foreign key (users.approved_by) is filled in a second pass, once all rows exist.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.config import hide_password, normalize_database_url, sqlite_file
from app.db.copy_verify import TableCheck, keyset_batches, prefetched, primary_key, verify_tables
from app.db.engine import connection_error, create_engine_for
from app.db.migrate import alembic_config, upgrade_to_head_async
from app.db.tables import metadata
from app.errors import InvalidInput

COPY_MARKER_TABLE = "pcap_analyzer_copy_in_progress"
DEFAULT_BATCH_SIZE = 1000

_marker_metadata = sa.MetaData()
marker = sa.Table(
    COPY_MARKER_TABLE,
    _marker_metadata,
    sa.Column("step", sa.String(160), primary_key=True),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("last_key", sa.Text(), nullable=True),  # JSON of the last copied primary key
    sa.Column("rows_copied", sa.BigInteger(), nullable=False),
    sa.Column("done", sa.Boolean(), nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("append", sa.Boolean(), nullable=False),  # the target held rows of its own before the copy
)


class CopyRefused(InvalidInput):
    """The copy cannot start as asked; nothing was changed in the target."""


@dataclass
class Step:
    """One unit of resumable work: the rows of a table, or the second pass filling self-references."""

    name: str
    table: sa.Table
    links: list[sa.Column[Any]] = field(default_factory=list)  # non-empty: the self-reference pass


class Reporter:
    """What the copy tells its caller (the CLI shows a Rich progress display with it)."""

    def message(self, text: str) -> None:
        """A line for the user."""

    def start(self, step: str, total: int, done: int) -> None:
        """A step begins (or resumes with `done` rows already copied)."""

    def advance(self, step: str, rows: int) -> None:
        """A batch of `rows` rows was committed."""


@dataclass
class CopyResult:
    checks: list[TableCheck]
    resumed: bool
    copy_seconds: float = 0.0
    verify_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def self_references(table: sa.Table) -> list[sa.Column[Any]]:
    """Columns of `table` with a foreign key to the same table (filled after all rows exist)."""
    return [c for c in table.columns if any(fk.column.table is table for fk in c.foreign_keys)]


def plan(tables: list[sa.Table] | None = None) -> list[Step]:
    """The steps of a copy, parents before children (metadata.sorted_tables: new tables come for free)."""
    steps = []
    for table in tables if tables is not None else metadata.sorted_tables:
        primary_key(table)  # fail early on a table the copy cannot page
        links = self_references(table)
        for column in links:
            if not column.nullable:
                raise ValueError(f"{table.name}.{column.name} references its own table and is NOT NULL")
        steps.append(Step(table.name, table))
        if links:
            steps.append(Step(f"{table.name}:links", table, links))
    return steps


def source_engine(url: str) -> AsyncEngine:
    """A read-only engine on the source database."""
    async_url, db_type = normalize_database_url(url)
    if db_type == "sqlite":
        path = sqlite_file(url)
        if path is None or not path.is_file():
            raise CopyRefused(f"the source database file {path or url!r} does not exist")
        read_only = f"sqlite+aiosqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"
        engine = create_async_engine(read_only, poolclass=NullPool)

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _query_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        return engine
    settings = {"default_transaction_read_only": "on"}
    return create_async_engine(async_url, poolclass=NullPool, connect_args={"server_settings": settings})


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def _connect(engine: AsyncEngine, url: str) -> AsyncConnection:
    try:
        return await engine.connect()
    except (OSError, TimeoutError, DBAPIError) as exc:
        raise connection_error(url, exc) from None


async def _check_source_revision(conn: AsyncConnection, url: str) -> None:
    revision = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    head = _head()
    if revision != head:
        found = f"at revision {revision}" if revision else "not initialised by Alembic"
        raise CopyRefused(
            f"the source database {hide_password(url)} is {found}, not at head {head}; back it up, "
            f"then upgrade it first (DATABASE_URL={hide_password(url)} pcap-analyzer db upgrade) "
            "and run the copy again (the copy never modifies its source)"
        )


async def _has_marker(conn: AsyncConnection) -> bool:
    return await conn.run_sync(lambda c: sa.inspect(c).has_table(COPY_MARKER_TABLE))


async def unfinished_copy(engine: AsyncEngine) -> bool:
    """True when the database is the target of a `db copy` that has not finished (incomplete data)."""
    async with engine.connect() as conn:
        return await _has_marker(conn)


async def _row_counts(conn: AsyncConnection) -> dict[str, int]:
    counts = {}
    for table in metadata.sorted_tables:
        counts[table.name] = int(
            (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
        )
    return counts


async def _empty_target(conn: AsyncConnection) -> None:
    """Delete every row of our tables (children first) and the marker, in the caller's transaction."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        await conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
    await conn.run_sync(lambda c: marker.drop(c, checkfirst=True))


def _encode_key(value: Any) -> str:
    return json.dumps(str(value) if not isinstance(value, int) else value)


def _decode_key(column: sa.Column[Any], text: str | None) -> Any:
    if text is None:
        return None
    value = json.loads(text)
    if isinstance(column.type, sa.DateTime) and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


async def _prepare_target(
    conn: AsyncConnection, source_url: str, steps: list[Step], *, append: bool, resume: bool, restart: bool
) -> bool:
    """Check the target's state and create the marker; return True when resuming an interrupted copy."""
    if await _has_marker(conn):
        rows = (await conn.execute(sa.select(marker).order_by(marker.c.position))).mappings().all()
        done = sum(1 for r in rows if r["done"])
        started = rows[0]["started_at"] if rows else "?"
        recorded = rows[0]["source"] if rows else hide_password(source_url)
        appended = bool(rows and rows[0]["append"])
        await conn.rollback()
        if (resume or restart) and recorded != hide_password(source_url):
            raise CopyRefused(
                f"the unfinished copy in the target came from {recorded}, "
                f"not from {hide_password(source_url)}"
            )
        if restart and appended:
            raise CopyRefused(
                "the unfinished copy was an --append into a database that already held data: --restart would "
                "delete that data too. Continue it with --resume, or restore the target from its backup"
            )
        if restart:
            async with conn.begin():
                await _empty_target(conn)
            counts: dict[str, int] = {}
        elif resume:
            return True
        else:
            raise CopyRefused(
                f"the target holds an unfinished copy (started {started}, {done} of {len(rows)} steps "
                f"done): its data is incomplete. Run the same command with --resume to continue it, "
                "or with --restart to empty the target and start over"
            )
    else:
        counts = {name: n for name, n in (await _row_counts(conn)).items() if n}
        await conn.rollback()
        if counts and not append:
            listed = ", ".join(f"{name}: {n} rows" for name, n in counts.items())
            raise CopyRefused(
                f"the target database is not empty ({listed}); nothing was copied. Copy into an empty "
                "database, or add --append to add the source's rows to the existing ones"
            )
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    async with conn.begin():
        await conn.run_sync(lambda c: marker.create(c))
        await conn.execute(
            marker.insert(),
            [
                dict(
                    step=s.name,
                    position=i,
                    last_key=None,
                    rows_copied=0,
                    done=False,
                    source=hide_password(source_url),
                    started_at=started_at,
                    append=bool(counts),
                )
                for i, s in enumerate(steps)
            ],
        )
    return False


async def _count_source(conn: AsyncConnection, step: Step) -> int:
    query = sa.select(sa.func.count()).select_from(step.table)
    if step.links:
        query = query.where(sa.or_(*(c.isnot(None) for c in step.links)))
    return int((await conn.execute(query)).scalar_one())


async def _run_step(
    src: AsyncConnection, dst: AsyncConnection, step: Step, batch_size: int, reporter: Reporter
) -> None:
    state = (await dst.execute(sa.select(marker).where(marker.c.step == step.name))).mappings().one()
    await dst.rollback()
    if state["done"]:
        return
    table, pk = step.table, primary_key(step.table)
    reporter.start(step.name, await _count_source(src, step), int(state["rows_copied"]))
    after = _decode_key(pk, state["last_key"])
    if step.links:
        # Columns with an on-update default (updated_at) are written too, with their source values.
        kept = [c for c in table.columns if c.onupdate is not None and c not in step.links]
        written = [*step.links, *kept]
        columns = [pk, *written]
        where = sa.or_(*(c.isnot(None) for c in step.links))
        pk_param = f"_key_{pk.name}"
        statement = table.update().where(pk == sa.bindparam(pk_param))
        statement = statement.values({c.name: sa.bindparam(c.name) for c in written})
    else:
        columns, where = list(table.columns), None
    nulled = {c.name: None for c in self_references(table)} if not step.links else {}
    batches = keyset_batches(src, table, batch_size, after=after, columns=columns, where=where)
    async with contextlib.aclosing(prefetched(batches)) as stream:
        async for rows in stream:
            last = rows[-1][pk.name]
            async with dst.begin():
                if step.links:
                    params = [{pk_param: r[pk.name], **{c.name: r[c.name] for c in written}} for r in rows]
                    await dst.execute(statement, params)
                else:
                    await dst.execute(table.insert(), [{**r, **nulled} for r in rows])
                await dst.execute(
                    marker.update()
                    .where(marker.c.step == step.name)
                    .values(last_key=_encode_key(last), rows_copied=marker.c.rows_copied + len(rows))
                )
            reporter.advance(step.name, len(rows))
    async with dst.begin():
        await dst.execute(marker.update().where(marker.c.step == step.name).values(done=True))


async def reset_sequences(conn: AsyncConnection) -> None:
    """Move PostgreSQL's serial/identity sequences past the copied ids (SQLite needs nothing)."""
    if conn.dialect.name != "postgresql":
        return
    for table in metadata.sorted_tables:
        column = primary_key(table)
        if not isinstance(column.type, sa.Integer) or column.autoincrement is False:
            continue
        await conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'
            ),
            {"table": f'"{table.name}"', "column": column.name},
        )


async def copy_database(
    source_url: str,
    target_url: str,
    *,
    append: bool = False,
    resume: bool = False,
    restart: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    reporter: Reporter | None = None,
) -> CopyResult:
    """Copy every table from `source_url` to `target_url`, then verify counts and checksums.

    Raises CopyRefused (nothing changed) when the source is not at head, the target is not empty, or
    an unfinished copy is found without `resume`/`restart`.
    """
    reporter = reporter or Reporter()
    if restart and resume:
        raise CopyRefused("--resume and --restart exclude each other")
    if batch_size < 1:
        raise CopyRefused("the batch size must be at least 1")
    if normalize_database_url(source_url)[0] == normalize_database_url(target_url)[0]:
        raise CopyRefused("the source and the target are the same database")
    steps = plan()
    src_engine = source_engine(source_url)
    try:
        src = await _connect(src_engine, source_url)
        try:
            await _check_source_revision(src, source_url)
            await src.rollback()
            reporter.message(f"migrating the target {hide_password(target_url)} to head")
            await upgrade_to_head_async(target_url)
            dst_engine = create_engine_for(target_url, pooled=False)
            try:
                dst = await _connect(dst_engine, target_url)
                try:
                    return await _copy(
                        src, dst, source_url, steps, append, resume, restart, batch_size, reporter
                    )
                finally:
                    await dst.close()
            finally:
                await dst_engine.dispose()
        finally:
            await src.close()
    finally:
        await src_engine.dispose()


async def _copy(
    src: AsyncConnection,
    dst: AsyncConnection,
    source_url: str,
    steps: list[Step],
    append: bool,
    resume: bool,
    restart: bool,
    batch_size: int,
    reporter: Reporter,
) -> CopyResult:
    began = time.perf_counter()
    resumed = await _prepare_target(dst, source_url, steps, append=append, resume=resume, restart=restart)
    if resumed:
        reporter.message("resuming the unfinished copy recorded in the target")
    for step in steps:
        await _run_step(src, dst, step, batch_size, reporter)
        await src.rollback()
    async with dst.begin():
        await reset_sequences(dst)
        await dst.run_sync(lambda c: marker.drop(c))
    copied = time.perf_counter()
    reporter.message("copy finished; verifying row counts and checksums")
    checks = await verify_tables(src, dst, metadata.sorted_tables, batch_size, only_source_keys=append)
    verified = time.perf_counter()
    await dst.rollback()
    return CopyResult(checks, resumed, copied - began, verified - copied)
