"""Hand-built AnalysisResult objects for report tests that need a given size or content."""

from __future__ import annotations

import random

from pcap_analyzer.report.model import (
    AnalysisResult,
    CaptureInfo,
    ConnectionDetail,
    DnsQueryInfo,
    DnsSummary,
    Evidence,
    Finding,
    FlaggedPacket,
    Generator,
    Health,
    HealthReason,
    SeriesPoint,
    Stats,
    TcpConnection,
    Timeline,
)

START = 1_700_000_000.0


def connection(i: int, rng: random.Random) -> TcpConnection:
    """A plausible connection: addresses from a /16, microsecond timestamps, a few flagged packets."""
    retr = rng.choice((0, 0, 0, 1, 3))
    return TcpConnection(
        stream=i,
        client=f"10.{i // 250 % 250}.{i % 250}.{rng.randrange(1, 250)}",
        client_port=rng.randrange(1024, 65535),
        server=f"192.0.2.{i % 200 + 1}",
        server_port=rng.choice((80, 443, 8443)),
        first_frame=i * 20 + 1,
        first_ts=round(START + i * 0.01, 6),
        duration_s=round(rng.uniform(0.001, 30), 6),
        packets_ab=rng.randrange(3, 200),
        packets_ba=rng.randrange(3, 200),
        bytes_ab=rng.randrange(200, 200_000),
        bytes_ba=rng.randrange(200, 2_000_000),
        payload_ab=rng.randrange(0, 100_000),
        payload_ba=rng.randrange(0, 1_000_000),
        throughput_bps=round(rng.uniform(1e3, 1e8), 1),
        handshake_ms=round(rng.uniform(0.1, 300), 3),
        rtt_ms=Stats(
            count=5, min=0.2, median=round(rng.uniform(0.2, 80), 3), p95=90.5, max=120.25, mean=40.125
        ),
        retransmissions=retr,
        retransmission_pct=round(100 * retr / 50, 3),
        duplicate_acks=retr * 3,
        resets=rng.choice((0, 0, 1)),
        state=rng.choice(("SF", "S0", "RSTO", "REJ", "S1")),
        score=round(retr * 10 + rng.random(), 3),
        flagged=[
            FlaggedPacket(frame=i * 20 + 5, ts=START + i * 0.01 + 0.2, direction=0, flags=["retransmission"])
        ]
        * min(retr, 1),
    )


def synthetic_result(
    n_connections: int = 50, *, seconds: int = 120, hostile: str = "", seed: int = 1
) -> AnalysisResult:
    """A complete AnalysisResult; `hostile` is put into every capture-derived string field it fits."""
    rng = random.Random(seed)
    conns = [connection(i, rng) for i in range(n_connections)]
    conns.sort(key=lambda c: -c.score)
    buckets = list(range(seconds))
    details = [
        ConnectionDetail(
            stream=c.stream,
            seq=[(k * 0.01, k * 1448, 1448, 1 if k % 97 == 50 else 0) for k in range(2000)],
            ack=[(k * 0.01 + 0.005, k * 1448) for k in range(2000)],
            window=[(k * 0.01, 65535 - (k % 100) * 600) for k in range(2000)],
        )
        for c in conns[:10]
    ]
    name = hostile + "example.com"
    query = DnsQueryInfo(frame=7, ts=START + 1.5, client="10.0.0.1", server="10.0.0.53", name=name, qtype="A")
    return AnalysisResult(
        generator=Generator(version="0.0-test"),
        analyzed_at="2026-11-24T10:00:00Z",
        capture=CaptureInfo(
            file_name=hostile + "capture.pcap",
            file_size=123_456,
            format="pcap",
            link_types=["ETHERNET"],
            packets=n_connections * 40,
            bytes=n_connections * 40_000,
            first_ts=START,
            last_ts=START + seconds,
            duration_s=float(seconds),
        ),
        dns=DnsSummary(
            queries=10,
            responses=9,
            unanswered=1,
            response_time_ms=Stats(count=9, min=1.0, median=12.5, p95=80.0, max=95.0, mean=20.0),
            rcodes={"NOERROR": 8, "NXDOMAIN": 1},
            histogram_ms=[(0.0, 10.0, 4), (10.0, 20.0, 3), (20.0, 100.0, 2)],
            unanswered_queries=[query],
        ),
        connections=conns,
        connection_details=details,
        timeline=Timeline(
            bucket_s=1.0,
            start_ts=START,
            bytes_ab=[rng.randrange(0, 10**6) for _ in buckets],
            bytes_ba=[rng.randrange(0, 10**7) for _ in buckets],
            bytes_total=[rng.randrange(10**7, 2 * 10**7) for _ in buckets],
            packets=[rng.randrange(100, 10_000) for _ in buckets],
            events={"retransmission": [rng.choice((0, 0, 2)) for _ in buckets], "zero_window": [0] * seconds},
            rtt_ms=[SeriesPoint(t=k * 0.5, v=rng.uniform(1, 50)) for k in range(2 * seconds)],
            dns_ms=[SeriesPoint(t=k * 3.0, v=rng.uniform(1, 90)) for k in range(seconds // 3)],
            top_connections={
                f"stream {c.stream}": [rng.randrange(0, 10**5) for _ in buckets] for c in conns[:5]
            },
        ),
        health=Health(
            score=62, reasons=[HealthReason(code="tcp.loss", message="Segments were lost", penalty=38)]
        ),
        findings=[
            Finding(
                id="tcp.loss",
                severity="critical",
                title="Transfers to " + name + " lost segments",
                detail="Retransmissions slowed the transfer.",
                impact=10.0,
                evidence=Evidence(
                    streams=[conns[0].stream], frames=[5, 9], flows=["10.0.0.1:5000 -> 10.0.0.2:80"]
                ),
            )
        ],
        limits={"max_connections": n_connections},
    )
