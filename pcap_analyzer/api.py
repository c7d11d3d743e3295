"""analyze(): one streaming pass over a capture, from the file to a complete AnalysisResult."""

from __future__ import annotations

import ctypes
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pcap_analyzer import __version__
from pcap_analyzer.analyzers.app_timing import AppTiming
from pcap_analyzer.analyzers.bursts import BurstAnalyzer
from pcap_analyzer.analyzers.dns import DnsAnalyzer
from pcap_analyzer.analyzers.encapsulation import EncapsulationAnalyzer
from pcap_analyzer.analyzers.fragments import FragmentAnalyzer
from pcap_analyzer.analyzers.gaps import GapAnalyzer
from pcap_analyzer.analyzers.http import HttpAnalyzer
from pcap_analyzer.analyzers.icmp import IcmpAnalyzer
from pcap_analyzer.analyzers.jitter import UdpStreamAnalyzer
from pcap_analyzer.analyzers.latency import exchange_parts, latency_breakdown, latency_connections
from pcap_analyzer.analyzers.protocols import ProtocolAnalyzer
from pcap_analyzer.analyzers.services import services
from pcap_analyzer.analyzers.talkers import TalkersAnalyzer
from pcap_analyzer.analyzers.throughput import ThroughputAnalyzer
from pcap_analyzer.analyzers.tls import TlsAnalyzer
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.capture.chunk import RecordChunk
from pcap_analyzer.capture.linktypes import linktype_name
from pcap_analyzer.capture.open import CaptureReader, open_capture
from pcap_analyzer.config import AnalysisConfig, resolve_config
from pcap_analyzer.decode import decode_chunk
from pcap_analyzer.decode.coverage import Coverage
from pcap_analyzer.decode.dns_tcp import DnsTcpReassembler
from pcap_analyzer.decode.packets import PacketTable, Undecoded
from pcap_analyzer.decode.reassembly import IpReassembler
from pcap_analyzer.diagnose.filters import add_filters
from pcap_analyzer.diagnose.findings import diagnose
from pcap_analyzer.flows.model import FlowAssignment
from pcap_analyzer.flows.tracker import FlowTracker
from pcap_analyzer.progress import Phase, ProgressCallback
from pcap_analyzer.report.base import normalized
from pcap_analyzer.report.model import AnalysisResult, CaptureInfo, Generator, NotAnalysed, WarningInfo
from pcap_analyzer.security.collector import SecurityCollector
from pcap_analyzer.tcp.analyzer import TcpAnalyzer
from pcap_analyzer.tcp.waits import WaitsAnalyzer


def _noop(bytes_done: int, bytes_total: int, packets_done: int, phase: Phase) -> None:
    return None


class _CaptureFacts:
    """Running capture-wide figures (frame counts and sizes, timestamps, undecoded reasons)."""

    def __init__(self) -> None:
        self.packets = self.bytes = self.captured = self.cut = self.tcp_data_segments = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.min_ns: int | None = None
        self.max_ns: int | None = None
        self.backwards = 0  # records stamped earlier than the record before them
        self.undecoded = np.zeros(len(Undecoded), np.int64)
        self.coverage = Coverage()

    def add(self, chunk: RecordChunk, packets: PacketTable) -> None:
        n = len(chunk)
        if n == 0:
            return
        self.packets += n
        self.bytes += int(chunk.wirelen.sum(dtype=np.int64))
        self.captured += int(chunk.caplen.sum(dtype=np.int64))
        self.cut += int(np.count_nonzero(chunk.caplen < chunk.wirelen))
        ts = chunk.ts_ns
        lo, hi = int(ts.min()), int(ts.max())
        if self.first_ns is None:
            self.first_ns, self.min_ns, self.max_ns = int(ts[0]), lo, hi
        else:
            assert self.last_ns is not None and self.min_ns is not None and self.max_ns is not None
            self.backwards += int(ts[0] < self.last_ns)
            self.min_ns, self.max_ns = min(self.min_ns, lo), max(self.max_ns, hi)
        self.backwards += int(np.count_nonzero(ts[1:] < ts[:-1]))
        self.last_ns = int(ts[-1])
        self.undecoded += np.bincount(packets.undecoded, minlength=len(Undecoded))[: len(Undecoded)]
        self.coverage.add(packets)
        data = (packets.ip_proto == 6) & (packets.payload_len > 0) & (packets.undecoded == Undecoded.OK)
        self.tcp_data_segments += int(np.count_nonzero(data))

    def info(self, path: Path, reader: Any) -> CaptureInfo:
        first = self.first_ns / 1e9 if self.first_ns is not None else None
        last = self.last_ns / 1e9 if self.last_ns is not None else None
        # As tshark: latest - earliest, so time going backwards does not shorten or negate the capture.
        duration = (
            (self.max_ns - self.min_ns) / 1e9 if self.min_ns is not None and self.max_ns is not None else 0.0
        )
        undecoded = {
            Undecoded(i).name.lower(): int(v) for i, v in enumerate(self.undecoded) if i != Undecoded.OK and v
        }
        return CaptureInfo(
            file_name=path.name,
            file_size=path.stat().st_size,
            format=reader.format,
            compression=reader.compression,
            link_types=sorted({linktype_name(int(t)) for t in reader.link_types}),
            packets=self.packets,
            bytes=self.bytes,
            captured_bytes=self.captured,
            cut_packets=self.cut,
            first_ts=first,
            last_ts=last,
            duration_s=duration,
            timestamps_backwards=self.backwards,
            truncated=bool(reader.truncated),
            warnings=[
                WarningInfo(
                    offset=w.offset, packet_index=w.packet_index, reason=w.reason, bytes_left=w.bytes_left
                )
                for w in reader.warnings
            ],
            undecoded=undecoded,
            not_analysed_packets=self.coverage.packets,
            not_analysed=[NotAnalysed(**asdict(g)) for g in self.coverage.groups()],
        )


class _ReadAhead:
    """Reads chunks and runs `prepare` on each in a worker thread while the caller works on earlier ones.

    The engine's Numba kernels release the GIL, so on a multi-core machine reading, decoding and the stages
    in `prepare` overlap the caller's TCP analysis. `prepare(chunk)` runs once per chunk, in file order, and
    its results reach the caller in that order. The worker starts a chunk only while fewer than IN_FLIGHT
    are prepared and not yet done with (the caller is done with one when it asks for the next), which bounds
    memory. A worker failure is raised in the caller; leaving the `with` block, even on an error, stops the
    worker before the reader is closed, since chunks are views of the reader's buffer.
    """

    _END = object()
    IN_FLIGHT = 2

    def __init__(self, reader: CaptureReader, prepare: Callable[[RecordChunk], Any]) -> None:
        self._reader = reader
        self._prepare = prepare
        self._ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._room = threading.Semaphore(self.IN_FLIGHT)
        self._stop = False
        self._thread = threading.Thread(target=self._work, name="pcap-read-ahead", daemon=True)

    def __enter__(self) -> _ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._room.release()  # wake a worker waiting for room; it sees _stop and ends
        self._thread.join()

    def __iter__(self) -> Iterator[tuple[Any, int, int]]:
        """(prepare's result, reader.bytes_done, reader.packets_done) of each chunk."""
        while True:
            item = self._ready.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            del item
            self._room.release()

    def _work(self) -> None:
        reader = self._reader
        try:
            chunks = iter(reader)
            while True:
                self._room.acquire()
                if self._stop:
                    return
                chunk = next(chunks, None)
                if chunk is None:
                    break
                item = (self._prepare(chunk), int(reader.bytes_done), int(reader.packets_done))
                self._ready.put(item)
                del chunk, item
            self._ready.put(self._END)
        except BaseException as exc:  # handed to the caller, raised there
            self._ready.put(exc)


class _Pipeline:
    """The per-chunk stages and the streaming analyzers of one analysis."""

    def __init__(self, cfg: AnalysisConfig) -> None:
        self.cfg = cfg
        self.facts = _CaptureFacts()
        self.reassembler = IpReassembler()
        self.tracker = FlowTracker(tcp_idle_split_s=cfg.tcp_idle_split_s)
        self.dns_tcp = DnsTcpReassembler()
        self.tcp = TcpAnalyzer(flagged_per_stream=cfg.max_flagged_packets, series_points=cfg.detail_points)
        self.dns = DnsAnalyzer(
            max_list=cfg.max_dns_examples,
            timeout_s=cfg.dns_timeout_s,
            slow_ms=cfg.dns_slow_ms,
            max_domains=cfg.max_dns_domains,
        )
        self.jitter = UdpStreamAnalyzer(
            min_packets=cfg.udp_stream_min_packets, max_streams=cfg.max_udp_streams
        )
        self.gaps = GapAnalyzer(threshold_s=cfg.gap_threshold_s, max_gaps=cfg.max_gaps)
        self.bursts = BurstAnalyzer(
            window_s=cfg.burst_bucket_s,
            factor=cfg.burst_factor,
            min_packets=cfg.burst_min_packets,
            max_bursts=cfg.max_gaps,
        )
        self.fragments = FragmentAnalyzer()
        self.protocols = ProtocolAnalyzer()
        self.encapsulation = EncapsulationAnalyzer()
        self.talkers = TalkersAnalyzer(top_n=cfg.max_talkers)
        self.throughput = ThroughputAnalyzer(bucket_s=cfg.timeline_bucket_s)
        self.security = SecurityCollector(cfg.security, max_frames=cfg.max_evidence_frames)
        self.tls = TlsAnalyzer(
            slow_ms=cfg.tls_slow_handshake_ms, max_list=cfg.max_tls_examples, max_servers=cfg.max_tls_servers
        )
        self.icmp = IcmpAnalyzer(max_peers=cfg.max_talkers, max_frames=cfg.max_evidence_frames)
        self.waits = WaitsAnalyzer(
            low_window_bytes=cfg.low_window_bytes,
            large_segment_bytes=cfg.pmtu_large_segment_bytes,
            idle_threshold_s=cfg.idle_threshold_s,
            syn_rto_tolerance_pct=cfg.syn_rto_tolerance_pct,
            max_rows=cfg.max_connections,
        )
        self.http = HttpAnalyzer(max_slowest=cfg.max_http_slowest, max_hosts=cfg.max_http_hosts)
        self.app_timing = AppTiming(self.http.marks, self.tls.marks)  # TCP timing of HTTP and TLS connections
        self.streaming = (
            self.dns,
            self.jitter,
            self.gaps,
            self.bursts,
            self.fragments,
            self.protocols,
            self.encapsulation,
            self.talkers,
            self.throughput,
            self.security,  # reads DNS names: runs in the read-ahead thread
            self.tls,  # reads payload bytes: runs in the read-ahead thread
            self.icmp,  # header columns (and the bytes of rare PMTU messages): caller's thread
            self.waits,  # needs the TCP analysis: caller's thread
            self.http,  # reads payload bytes: runs in the read-ahead thread
            self.app_timing,  # reads the TCP results: runs after TCP analysis
        )
        # Analyzers that read packet bytes (DNS names, RTP headers) run in the read-ahead thread, in parallel
        # with TCP analysis: the reader drops a chunk's file pages from memory when the thread moves on, and
        # later stages would fault them back in. The others run after TCP analysis in the caller's thread,
        # which balances the two threads' work (measured: 5 % faster on a 2 GB capture than with gaps,
        # bursts and fragments in the read-ahead thread).
        self.late = (
            self.throughput,
            self.talkers,
            self.protocols,
            self.encapsulation,
            self.gaps,
            self.bursts,
            self.fragments,
            self.waits,
            self.app_timing,
            self.icmp,
        )
        self.early = tuple(a for a in self.streaming if a not in self.late)

    def prepare(self, chunk: RecordChunk) -> tuple[PacketTable, FlowAssignment]:
        """Decode, reassemble IP fragments and DNS over TCP, count capture facts, assign flows, run the early
        analyzers (in the read-ahead thread)."""
        packets = self.reassembler.apply(decode_chunk(chunk))
        dns_tcp = self.dns_tcp.update(packets)
        self.facts.add(chunk, packets)
        flows = self.tracker.assign(packets)
        batch = PacketBatch(packets, flows, dns_tcp=dns_tcp)
        for analyzer in self.early:
            analyzer.update(batch)
        return packets, flows

    def feed(self, packets: PacketTable, flows: FlowAssignment) -> None:
        """TCP analysis and the late analyzers (in the caller's thread)."""
        batch = PacketBatch(packets, flows, self.tcp.update(packets, flows))
        for analyzer in self.late:
            analyzer.update(batch)

    def finish(self, result: AnalysisResult) -> None:
        """Finalize every stage into `result` (whose `capture` is already set)."""
        cfg = self.cfg
        # First the step with the largest temporaries (grouping every conversation), before the TCP report
        # holds its connection rows: the peak is then lower.
        flows = self.tracker.table(final=True)
        result.top_talkers, result.conversations = self.talkers.finalize(flows)
        report = self.tcp.finalize(flows)
        result.tcp = report.summary()
        result.security = self.security.finalize(flows, report)
        if not result.tcp.data_segments:
            result.tcp.data_segments = self.facts.tcp_data_segments
        result.connections = report.connections(cfg.max_connections)
        self.encapsulation.annotate(result.connections, flows)
        result.tcp_servers = report.servers(cfg.max_tcp_servers, cfg.slow_handshake_ms)
        worst = [c.stream for c in result.connections[: cfg.detail_connections]]
        result.connection_details = report.details(worst)
        last = result.capture.last_ts
        result.dns = self.dns.finalize(None if last is None else round(last * 1e9))
        result.udp_streams = self.jitter.finalize()
        result.throughput, result.timeline = self.throughput.finalize(self.dns.series())
        result.fragmentation = self.fragments.finalize()
        result.protocols = self.protocols.finalize()
        result.services = services(flows, cfg.max_services)
        result.gaps = self.gaps.finalize()
        result.bursts = self.bursts.finalize()
        result.tls = self.tls.finalize()
        result.icmp = self.icmp.finalize()
        result.tcp_waits = self.waits.finalize(report, self.facts.max_ns)
        result.http = self.http.finalize()
        rtt = np.nan_to_num(report.initial_rtt_s() * 1e9).astype(np.int64)
        timing = self.app_timing.finalize(rtt)
        exchanges = self.http.exchanges() + self.tls.app_exchanges()
        parts = exchange_parts(exchanges, timing)
        result.latency_breakdown = latency_breakdown(exchanges, timing, cfg.max_latency_servers, parts=parts)
        result.latency_connections = latency_connections(
            exchanges, parts, report.endpoints, cfg.max_latency_connections
        )
        limits = {
            "connections": cfg.max_connections,
            "flagged_packets": cfg.max_flagged_packets,
            "connection_details": cfg.detail_connections,
            "findings": cfg.max_findings,
            "tcp_servers": cfg.max_tcp_servers,
            "latency_connections": cfg.max_latency_connections,
        }
        for analyzer in self.streaming:
            limits.update(getattr(analyzer, "limits", dict)())
        limits.update(self.reassembler.limits())
        result.limits = limits


# Chunks' arrays interleave with the growing per-flow state in the heap, and glibc keeps what they free:
# left alone, that grows with the capture (measured: +50 MB after 2 GB). A trim every few chunks (~2 ms)
# returns it.
_TRIM_EVERY = 8


def _release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc keeps the chunks' freed memory otherwise),
    so the finishing phase starts from the state that outlives the reading loop."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
        pass


def analyze(
    path: str | Path,
    *,
    config: AnalysisConfig | dict[str, Any] | str | Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> AnalysisResult:
    """Analyse one capture file in a single streaming pass.

    Args:
        path: a pcap or pcapng file, optionally gzip or zstd compressed.
        config: an AnalysisConfig, a mapping of its fields, or the path of a YAML file; None = defaults.
        on_progress: called as on_progress(bytes_done, bytes_total, packets_done, phase) at least once per
            chunk and at each phase change.

    Returns:
        The AnalysisResult; a cut or damaged capture gives `capture.truncated=True` and warnings.

    Raises:
        CaptureFormatError: the file is not a capture. ConfigError: the configuration is invalid.

    Example:
        >>> result = analyze("capture.pcapng", config={"gap_threshold_s": 0.5})
        >>> result.health.score, result.tcp.retransmissions
    """
    started = time.perf_counter()
    cfg = resolve_config(config)
    path = Path(path)
    progress: ProgressCallback = on_progress or _noop
    pipeline = _Pipeline(cfg)
    with open_capture(path, chunk_bytes=cfg.chunk_bytes) as reader:
        total = int(reader.bytes_total)
        progress(0, total, 0, Phase.READING)
        with _ReadAhead(reader, pipeline.prepare) as chunks:
            for n_chunk, ((table, flows), bytes_done, packets_done) in enumerate(chunks, 1):
                pipeline.feed(table, flows)
                del table, flows  # freed before the trim, and not held through the finishing phase
                if n_chunk % _TRIM_EVERY == 0:
                    _release_free_memory()
                progress(bytes_done, total, packets_done, Phase.READING)
        capture = pipeline.facts.info(path, reader)
    _release_free_memory()
    packets = capture.packets
    progress(total, total, packets, Phase.ANALYZING)
    result = AnalysisResult(
        generator=Generator(version=__version__),
        analyzed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        capture=capture,
        config=cfg.as_report_dict(),
    )
    pipeline.finish(result)
    health, findings = diagnose(result, cfg)
    # The rules write literals like impact=5 into float fields: their few rows are converted by type here
    # (the analyzers' bulk is not: tests/engine/report/test_value_types.py checks it has the right types).
    result.health, result.findings = normalized(health), [normalized(f) for f in findings]
    add_filters(result, cfg)
    progress(total, total, packets, Phase.REPORTING)
    result.elapsed_s = round(time.perf_counter() - started, 3)
    progress(total, total, packets, Phase.DONE)
    return result
