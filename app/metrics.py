"""Prometheus metrics of the service (prometheus-client).

Two kinds, so that the numbers mean the same with one process or many:

- Events counted where they happen (HTTP requests and their latency, upload bytes, analyses finished
  and failed with their duration and packets/s, lease heartbeats): counters and histograms of this
  process. With several processes on one machine (`uvicorn --workers N`, `pcap-analyzer worker`
  next to the web service) set PROMETHEUS_MULTIPROC_DIR to the same empty directory for all of them:
  prometheus-client's multiprocess mode then adds up every process's values in each scrape.
  A `pcap-analyzer worker` on another machine can expose its own with WORKER_METRICS_PORT.
- State read from the database at scrape time (tasks by status, workers holding live leases, the
  oldest heartbeat): the same answer from any replica, whichever process ran what.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import TASK_STATUSES, tasks

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
disable_created_metrics()  # no *_created series: they double the output and nobody graphs them

HTTP_REQUESTS = Counter(
    "pcap_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "pcap_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPLOAD_BYTES = Counter("pcap_upload_bytes_total", "Bytes of accepted capture uploads.")
UPLOADS = Counter("pcap_uploads_total", "Accepted capture uploads.")
ANALYSES = Counter(
    "pcap_analyses_finished_total", "Analyses that ended, by outcome (completed or failed).", ["outcome"]
)
ANALYSIS_SECONDS = Histogram(
    "pcap_analysis_duration_seconds",
    "Wall time of one analysis attempt.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
ANALYSIS_RATE = Histogram(
    "pcap_analysis_packets_per_second",
    "Packets analysed per second by a completed analysis.",
    buckets=(1e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2e6, 5e6, 1e7),
)
HEARTBEATS = Counter(
    "pcap_worker_heartbeats_total",
    "Lease heartbeats sent by workers, by result (renewed or lost).",
    ["result"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered HTTP request (the RequestContext middleware calls this)."""
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def observe_upload(size: int) -> None:
    UPLOADS.inc()
    UPLOAD_BYTES.inc(size)


def observe_analysis(completed: bool, seconds: float, packets: int | None) -> None:
    """Record the end of one analysis attempt."""
    ANALYSES.labels("completed" if completed else "failed").inc()
    ANALYSIS_SECONDS.observe(seconds)
    if completed and packets and seconds > 0:
        ANALYSIS_RATE.observe(packets / seconds)


def observe_heartbeat(renewed: bool) -> None:
    HEARTBEATS.labels("renewed" if renewed else "lost").inc()


class _Snapshot(Collector):
    """Gauges computed before the scrape (collect() is synchronous, the database is async)."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


async def database_metrics(engine: AsyncEngine) -> list[Metric]:
    """Tasks by status, workers with a live lease and the oldest running task's heartbeat age."""
    by_status = GaugeMetricFamily(
        "pcap_tasks", "Tasks in the database, by status (the queue).", labels=["status"]
    )
    async with engine.connect() as conn:
        counts = dict(
            (await conn.execute(sa.select(tasks.c.status, sa.func.count()).group_by(tasks.c.status))).all()
        )
        now = datetime.now(UTC)
        live = tasks.c.status == "processing"
        workers = await conn.scalar(
            sa.select(sa.func.count(sa.distinct(tasks.c.worker_id))).where(
                live, tasks.c.lease_expires_at > now
            )
        )
        oldest = await conn.scalar(sa.select(sa.func.min(tasks.c.heartbeat_at)).where(live))
    for status in TASK_STATUSES:
        by_status.add_metric([status], int(counts.get(status, 0)))
    busy = GaugeMetricFamily(
        "pcap_workers_busy",
        "Distinct workers holding an unexpired lease on a running task.",
        value=int(workers or 0),
    )
    age = 0.0
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        age = max(0.0, (now - oldest).total_seconds())
    beat = GaugeMetricFamily(
        "pcap_worker_heartbeat_age_seconds",
        "Seconds since the least recent heartbeat of a running task (0 when none runs).",
        value=age,
    )
    return [by_status, busy, beat]


def process_registry() -> CollectorRegistry:
    """This process's metrics, or every process's when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


async def render(engine: AsyncEngine | None) -> bytes:
    """The text exposition of everything: process metrics plus the database gauges."""
    started = time.perf_counter()
    body = generate_latest(process_registry())
    if engine is not None:
        extra = CollectorRegistry(auto_describe=False)
        gauges = await database_metrics(engine)
        scrape = GaugeMetricFamily(
            "pcap_metrics_database_seconds",
            "Time spent reading the database gauges.",
            value=time.perf_counter() - started,
        )
        extra.register(_Snapshot([*gauges, scrape]))
        body += generate_latest(extra)
    return body


def start_worker_metrics_server(port: int | None, addr: str = "127.0.0.1") -> None:
    """Serve this worker process's metrics on addr:port (nothing when port is unset)."""
    if port:
        start_http_server(port, addr=addr, registry=process_registry())
