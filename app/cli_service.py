"""`pcap-analyzer serve`, `worker` and `cleanup` commands (owned by the web service)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_errors import clean_errors as _clean_errors
from app.cli_errors import own_command


def _has_admin() -> bool:
    import asyncio  # imported by the commands that need it, so `analyze` starts faster

    from app.config import get_settings
    from app.services.postgres_database import DatabasePool

    async def check() -> bool:
        async with DatabasePool(get_settings().DATABASE_URL) as db:
            row = await db.fetch_one("SELECT COUNT(*) AS n FROM users WHERE role = 'admin'")
        return bool(row and row["n"])

    return asyncio.run(check())


def _prepare_data_dir() -> None:
    from pathlib import Path

    from app.config import get_settings
    from app.services.storage import ensure_dirs

    ensure_dirs(Path(get_settings().DATA_DIR))


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None, typer.Option(help="Web processes (default: WEB_CONCURRENCY, the number of cores).", min=1)
    ] = None,
) -> None:
    """Apply the database migrations, then run the web service (with its embedded worker)."""
    import os

    import uvicorn

    from app.config import get_settings
    from app.db.migrate import upgrade_to_head

    _clean_errors(_prepare_data_dir)  # here, not in the app's start-up, so a bad folder is one line
    _clean_errors(upgrade_to_head)
    if not _clean_errors(_has_admin):
        typer.echo(
            "No administrator account yet. Create one with:\n"
            f"  {own_command()} users create-admin --username admin --email admin@example.org",
            err=True,
        )
    settings = _clean_errors(get_settings)
    processes = workers or settings.WEB_CONCURRENCY
    os.environ["PCAP_WEB_PROCESSES"] = str(processes)  # each process runs its share of the worker slots
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=processes,
        # X-Forwarded-For/-Proto only from the trusted reverse proxies; anyone else's header is ignored.
        proxy_headers=True,
        forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
        h11_max_incomplete_event_size=settings.MAX_REQUEST_HEADERS_KB * 1024,
        timeout_keep_alive=30,
        access_log=False,  # app.logging.RequestContext logs each request, with its request id and user
    )


def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Analyses run in parallel (default: WORKER_CONCURRENCY).")
    ] = None,
) -> None:
    """Run a standalone analysis worker against the configured database and DATA_DIR."""
    from app.worker.run import main

    _clean_errors(_prepare_data_dir)
    _clean_errors(lambda: main(concurrency))


def cleanup() -> None:
    """Expire analyses older than REPORT_TTL_HOURS and remove orphan files, once."""
    import asyncio
    from pathlib import Path

    from app.config import get_settings
    from app.services.cleanup import run_cleanup
    from app.services.postgres_database import DatabasePool

    async def run() -> None:
        settings = get_settings()
        async with DatabasePool(settings.DATABASE_URL) as db:
            result = await run_cleanup(db.engine, Path(settings.DATA_DIR))
        typer.echo(
            f"expired {result.expired} analyses, deleted {result.deleted_rows} old rows, "
            f"removed {result.orphan_files} orphan files"
        )

    _clean_errors(lambda: asyncio.run(run()))


def register_service_commands(cli: typer.Typer) -> None:
    """Add the web-service commands to the main command line."""
    cli.command("serve")(serve)
    cli.command("worker")(worker)
    cli.command("cleanup")(cleanup)
