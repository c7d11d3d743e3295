"""Standalone worker process (`pcap-analyzer worker`): the same loop as the embedded one, any machine."""

from __future__ import annotations

import asyncio
import signal

from app.services.postgres_database import DatabasePool
from app.services.progress import ProgressStore
from app.services.task_database import TaskDatabase
from app.worker.loop import worker_from_settings


async def run_worker(concurrency: int | None = None) -> None:
    """Run until SIGINT/SIGTERM, with the database and DATA_DIR of the settings."""
    from app.config import get_settings

    settings = get_settings()
    pool = DatabasePool(settings.DATABASE_URL)
    await pool.connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = worker_from_settings(
        TaskDatabase(pool.engine),
        ProgressStore(pool.engine),
        settings,
        concurrency or settings.WORKER_CONCURRENCY,
    )
    try:
        await worker.run(stop)
    finally:
        await pool.close()


def main(concurrency: int | None = None) -> None:
    """Set up logging (LOG_LEVEL, LOG_FORMAT) and the optional metrics port, then loop."""
    from app.config import get_settings
    from app.logging import configure_logging
    from app.metrics import start_worker_metrics_server

    settings = get_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    start_worker_metrics_server(settings.WORKER_METRICS_PORT, settings.WORKER_METRICS_ADDR)
    asyncio.run(run_worker(concurrency))
