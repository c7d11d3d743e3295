"""`analyze --csv DIR` on both command-line paths: stable headers, one row per listed item, filters that
tshark accepts and that select each connection's packets."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pcap_analyzer.cli import app
from pcap_analyzer.report.base import to_data
from pcap_analyzer.report.csv_export import TABLES, cell, csv_text, table_rows
from tests.engine.exports.tshark import CAPTURE, analysed, frames, needs_tshark

HEADERS = {
    "connections.csv": "stream,client,client_port,server,server_port,state,first_frame,first_ts,duration_s,"
    "packets_ab,packets_ba,bytes_ab,bytes_ba,payload_ab,payload_ba,throughput_bps,handshake_ms,rtt_median_ms,"
    "rtt_p95_ms,retransmissions,retransmission_pct,fast_retransmissions,duplicate_acks,lost_segments,"
    "out_of_order,zero_windows,window_full,resets,rto_time_ms,score,filter",
    "dns.csv": "list,frame,ts,client,server,name,qtype,rcode,response_time_ms,filter",
    "dns_domains.csv": "domain,queries,names,answered,failures,slow_answers,unanswered,pending_at_end,"
    "max_response_ms,filter",
    "findings.csv": "rank,id,severity,title,impact,streams,frames,flows,filter,detail",
    "talkers.csv": "address,bytes_sent,packets_sent,bytes_received,packets_received,filter",
    "services.csv": "protocol,port,service,connections,packets,bytes,bytes_to_server,bytes_to_client,filter",
    "requests.csv": "method,host,path,status,response_time_ms,transfer_ms,response_bytes,stream,"
    "request_frame,response_frame,filter",
    "latency_connections.csv": "stream,client,client_port,server,server_port,names,kinds,exchanges,time_ms,"
    "total_median_ms,network_sum_ms,server_sum_ms,transfer_sum_ms,network_median_ms,server_median_ms,"
    "transfer_median_ms,retransmission_wait_ms,zero_window_ms,dominant,dominant_pct,slowest_frame,slowest_ms,"
    "filter",
}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _check(folder: Path) -> None:
    r = analysed()
    assert sorted(p.name for p in folder.iterdir()) == sorted(HEADERS)
    assert not _read(folder / "requests.csv")  # the capture holds no HTTP/1.x request: the header only
    for name, header in HEADERS.items():
        assert (folder / name).read_bytes().decode().split("\r\n", 1)[0] == header
    conns = _read(folder / "connections.csv")
    assert [int(c["stream"]) for c in conns] == [c.stream for c in r.connections]
    d = r.dns
    dns = _read(folder / "dns.csv")
    assert len(dns) == len(d.unanswered_queries) + len(d.error_responses) + len(d.slowest_queries)
    assert [f["filter"] for f in _read(folder / "findings.csv")] == [f.filter for f in r.findings]
    assert [s["service"] for s in _read(folder / "services.csv")] == [s.service or "" for s in r.services]
    lat = _read(folder / "latency_connections.csv")
    want = [(c.stream, c.filter) for c in r.latency_connections]
    assert [(int(c["stream"]), c["filter"]) for c in lat] == want


def test_fast_path_writes_the_tables(tmp_path: Path) -> None:
    out = tmp_path / "csv"
    done = subprocess.run(
        [sys.executable, "-m", "pcap_analyzer", "analyze", str(CAPTURE), "--csv", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Wireshark filters of the top findings:" in done.stdout
    assert analysed().findings[0].filter in done.stdout.replace("\n", "")
    _check(out)
    assert not (tmp_path / "reports").exists()  # --csv alone writes only the CSV files


def test_typer_path_writes_the_tables(tmp_path: Path) -> None:
    out = tmp_path / "csv"
    res = CliRunner().invoke(app, ["analyze", str(CAPTURE), "--csv", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    _check(out)


def test_csv_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_text("")
    res = subprocess.run(
        [sys.executable, "-m", "pcap_analyzer", "analyze", str(CAPTURE), "--csv", str(f), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2 and "not a folder" in res.stderr and "Traceback" not in res.stderr


@needs_tshark
def test_connection_rows_filters_select_their_packets(tmp_path: Path) -> None:
    rows = table_rows(to_data(analysed()), TABLES[0])
    assert rows is not None
    header = rows[0]
    for row in rows[1:4]:
        c = dict(zip(header, row, strict=True))
        assert len(frames(c["filter"])) == int(c["packets_ab"]) + int(c["packets_ba"])


def test_requests_table_holds_the_http_rows(tmp_path: Path) -> None:
    """requests.csv on a capture with HTTP (tests/data/http): one row per listed request, in order, with
    text that a spreadsheet could run as a formula neutralised."""
    from pcap_analyzer import analyze
    from pcap_analyzer.report.csv_export import write_csv

    r = analyze(Path(__file__).resolve().parents[2] / "data" / "http" / "http_mixed.pcap")
    assert r.http.slowest
    write_csv(r, tmp_path)
    got = _read(tmp_path / "requests.csv")
    want = [(q.method, q.path, q.request_frame, q.filter) for q in r.http.slowest]
    assert [(g["method"], g["path"], int(g["request_frame"]), g["filter"]) for g in got] == want
    row = next(t for t in TABLES if t[0] == "requests.csv")
    data = {"http": {"slowest": [{"method": "POST", "host": "b.test", "path": "=cmd", "stream": 4}]}}
    assert csv_text(table_rows(data, row) or []).splitlines()[1].startswith("POST,b.test,'=cmd,")
    assert table_rows({}, row) is None


def test_cells() -> None:
    assert [cell(v) for v in (None, 1.0, 0.1, 1e-05, 2.5e21, [1, 2], {"NXDOMAIN": 2}, "-1", "@x", "ok")] == [
        "",
        "1",
        "0.1",
        "0.00001",
        "2.5e+21",
        "1; 2",
        "NXDOMAIN:2",
        "'-1",
        "'@x",
        "ok",
    ]


def test_latency_connections_table(tmp_path: Path) -> None:
    """latency_connections.csv on the TLS capture (tests/data/tls): one row per connection whose handshake a
    ServerHello answered (tshark's oracle), most time first, each with its tcp.stream filter."""
    import json

    from pcap_analyzer import analyze
    from pcap_analyzer.report.csv_export import write_csv

    tls = Path(__file__).resolve().parents[2] / "data" / "tls"
    streams = json.loads((tls / "oracle.json").read_text())["captures"]["tls_handshakes.pcap"]["streams"]
    r = analyze(tls / "tls_handshakes.pcap")
    write_csv(r, tmp_path)
    got = _read(tmp_path / "latency_connections.csv")
    assert sorted(int(g["stream"]) for g in got) == sorted(
        int(s) for s, v in streams.items() if v["server_hello_frame"]
    )
    times = [float(g["time_ms"]) for g in got]
    assert times == sorted(times, reverse=True)
    for g in got:
        v = streams[g["stream"]]
        assert g["filter"] == f"tcp.stream == {g['stream']}"
        assert int(g["slowest_frame"]) == v["client_hello_frame"] and g["kinds"] == "tls"
        assert g["names"] == (v["sni"] or f"{g['server']}:{g['server_port']}")
        parts = sum(float(g[k]) for k in ("network_sum_ms", "server_sum_ms", "transfer_sum_ms"))
        assert abs(parts - float(g["time_ms"])) < 1e-5
