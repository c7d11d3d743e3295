"""Latency breakdown on captures whose truth is known by construction."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from functools import cache
from pathlib import Path

from pcap_analyzer import analyze
from pcap_analyzer.report.model import AnalysisResult
from tests.engine.diagnose.raw import Trace, _ip

DATA = Path(__file__).resolve().parents[2] / "data" / "http"


@cache
def _recorded() -> AnalysisResult:
    return analyze(DATA / "http_breakdown.pcap")


def test_sleeping_server_is_server_time() -> None:
    """http.server sleeping 200 ms before each of 6 answers, over a veth pair (RTT of microseconds)."""
    slow = next(s for s in _recorded().latency_breakdown if s.server == "slow.example.test")
    assert slow.requests == 6
    assert 200 <= slow.server_ms < 215
    assert slow.network_ms < 0.1
    assert slow.dominant == "server"
    assert slow.dominant_pct > 75


def test_rate_limited_download_is_transfer_time() -> None:
    """100,000-byte bodies through a 1 Mbit/s token bucket (8 kB burst): 734-800 ms each on the wire."""
    bulk = next(s for s in _recorded().latency_breakdown if s.server == "bulk.example.test")
    assert bulk.requests == 2
    assert 700 <= bulk.transfer_ms <= 850
    assert bulk.dominant == "transfer"


def _seg(src: str, sport: int, dst: str, dport: int, flags: int, seq: int, ack: int, data: bytes = b"",
         win: int = 65535) -> bytes:
    head = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, win, 0, 0)
    return _ip(src, dst, 6, head + data)


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
C, S = "10.9.0.1", "10.9.0.2"


def _constructed(path: Path) -> Path:
    """One connection on port 5555 (not an HTTP port: found by content), captured at the client: 10 ms to
    the server and back, 0.1 ms to the client. The server answers after 100 ms of work; the 4-segment body
    loses its second segment, resent after a 300 ms timeout; then the client advertises a zero window for
    200 ms before the last segment comes."""
    tr = Trace()
    c, s = 1000, 50000
    tr.at(0.0, _seg(C, 40000, S, 5555, SYN, c, 0))
    tr.at(0.010, _seg(S, 5555, C, 40000, SYN | ACK, s, c + 1))
    tr.at(0.0101, _seg(C, 40000, S, 5555, ACK, c + 1, s + 1))  # initial RTT 10.1 ms
    req = b"GET /report?id=7 HTTP/1.1\r\nHost: odd.example.test:5555\r\n\r\n"
    c, s = c + 1, s + 1
    tr.at(0.020, _seg(C, 40000, S, 5555, PSH | ACK, c, s, req))
    c += len(req)
    tr.at(0.030, _seg(S, 5555, C, 40000, ACK, s, c))  # ACK RTT 10 ms (server leg)
    body = [bytes([65 + i]) * 1000 for i in range(4)]
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n"
    first = 0.130  # 10 ms of network, 100 ms of work at the server
    tr.at(first, _seg(S, 5555, C, 40000, PSH | ACK, s, c, head + body[0]))
    s0 = s
    s += len(head) + 1000
    tr.at(first + 0.0001, _seg(C, 40000, S, 5555, ACK, c, s))  # ACK RTT 0.1 ms (client leg)
    tr.at(first + 0.0002, _seg(S, 5555, C, 40000, ACK, s + 1000, c, body[2]))  # body[1] lost
    tr.at(first + 0.0003, _seg(C, 40000, S, 5555, ACK, c, s))  # dup ACK
    resent = first + 0.300
    tr.at(resent, _seg(S, 5555, C, 40000, ACK, s, c, body[1]))
    tr.at(resent + 0.0001, _seg(C, 40000, S, 5555, ACK, c, s + 2000, win=0))  # zero window
    tr.at(resent + 0.2001, _seg(C, 40000, S, 5555, ACK, c, s + 2000))  # window update
    last = resent + 0.2101
    tr.at(last, _seg(S, 5555, C, 40000, PSH | ACK, s + 2000, c, body[3]))
    tr.at(last + 0.0001, _seg(C, 40000, S, 5555, ACK, c, s0 + len(head) + 4000))
    return tr.write(path)


def test_constructed_exchange(tmp_path: Path) -> None:
    r = analyze(_constructed(tmp_path / "odd_port.pcap"))
    assert (r.http.requests, r.http.responses, r.http.status_codes) == (1, 1, {"200": 1})
    (req,) = r.http.slowest
    assert (req.host, req.path, req.stream, req.request_frame) == ("odd.example.test:5555", "/report?id=7",
                                                                   0, 4)
    assert abs(req.response_time_ms - 110.0) < 1e-3  # type: ignore[operator]
    (srv,) = r.latency_breakdown
    assert srv.server == "odd.example.test"
    assert abs(srv.network_ms - 10.1) < 1e-3  # server leg + client leg
    assert abs(srv.server_ms - 99.9) < 1e-3
    assert abs(srv.transfer_ms - 510.1) < 1e-3
    assert abs(srv.retransmission_wait_ms - 299.8) < 1e-3  # tcp.analysis.rto: since body[2] was sent
    assert abs(srv.zero_window_ms - 200.0) < 1e-3
    assert srv.dominant == "transfer"


def test_findings_name_the_dominant_part() -> None:
    r = analyze(DATA / "http_breakdown.pcap", config={"http_slow_ms": 100})
    by_server = {f.title.split(":")[0]: f for f in r.findings if f.id.startswith("latency.")}
    slow = by_server["slow.example.test"]
    assert (slow.id, slow.severity) == ("latency.server", "warning")
    assert "% of the 24" in slow.title and "median response is server time" in slow.title
    assert slow.evidence.streams == [0]
    bulk = by_server["bulk.example.test"]
    assert (bulk.id, bulk.severity) == ("latency.transfer", "info")  # 2 exchanges < http_min_requests
    assert "http_min_requests" in bulk.detail
    r = analyze(DATA / "http_breakdown.pcap", config={"http_slow_ms": 100, "http_min_requests": 2})
    assert {f.id: f.severity for f in r.findings}["latency.transfer"] == "warning"
    r = analyze(DATA / "http_breakdown.pcap")  # default http_slow_ms: 500 ms; the bulk median is 810 ms
    assert [f.id for f in r.findings if f.id.startswith("latency.")] == ["latency.transfer"]


def test_zero_window_finding(tmp_path: Path) -> None:
    r = analyze(_constructed(tmp_path / "odd_port.pcap"))
    (f,) = [f for f in r.findings if f.id == "latency.zero_window"]
    assert f.title == "Responses from odd.example.test spend 32% of their time waiting on zero windows " \
        "advertised by the client"
    (rto,) = [f for f in r.findings if f.id == "latency.rto_wait"]
    assert "48%" in rto.title


def test_cli_summary(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("pcap-analyzer")
    cmd = [str(script), "analyze", str(DATA / "http_breakdown.pcap"), "--output-dir", str(tmp_path)]
    env = {**os.environ, "COLUMNS": "250"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    assert "8 requests, 8 responses (0 4xx/5xx), 0 unanswered" in out
    assert "slow.example.test: server 82% of" in out
    assert "bulk.example.test: transfer 99% of" in out
    # two 100,000-byte bodies at 1 Mbit/s (> 1.4 s) outweigh six 200 ms sleeps (1.2 s + small transfers)
    assert "Slowest connection" in out and "tcp.stream 1 (bulk.example.test):" in out
    assert "over 2 exchanges, transfer 99%" in out


def test_tls_handshakes_join_the_breakdown_per_server() -> None:
    """The TLS capture (tests/data/tls): one exchange per handshake a ServerHello answered, per SNI (else
    address:port), as tshark saw them; ClientHello -> ServerHello is network + server time, so their medians
    add up to no more than the slowest and no less than the fastest of tshark's hello times."""
    import json
    from collections import defaultdict

    tls_dir = DATA.parent / "tls"
    streams = json.loads((tls_dir / "oracle.json").read_text())["captures"]["tls_handshakes.pcap"]["streams"]
    hello: dict[str, list[float]] = defaultdict(list)
    for s in streams.values():
        if s.get("server_hello_frame") and s.get("sni"):
            hello[s["sni"]].append(s["hello_ms"])
    breakdown = analyze(tls_dir / "tls_handshakes.pcap").latency_breakdown
    rows = {s.server: s for s in breakdown if s.kind == "tls"}
    assert hello and set(hello) <= set(rows)
    for sni, times in hello.items():
        row = rows[sni]
        assert row.requests == len(times), sni
        assert min(times) - 0.05 <= row.network_ms + row.server_ms <= max(times) + 0.05, sni
    slow = rows["slow.test"]  # a relay held its ServerHellos 40 ms: the server's side of the time
    assert slow.server_ms > 10 * slow.network_ms
