"""Encapsulation stacks per connection and in the protocol hierarchy, against tshark, on real traffic through
tunnels between network namespaces (tests/data/tunnels: oracle.json, and tshark live when installed)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from functools import cache
from pathlib import Path

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.model import AnalysisResult

DATA = Path(__file__).resolve().parents[2] / "data" / "tunnels"
ORACLE = json.loads((DATA / "oracle.json").read_text())["captures"]
CAPTURES = sorted(ORACLE)
TSHARK = shutil.which("tshark")
TUNNEL_LEVELS = ("GRE", "ERSPAN", "VXLAN", "Geneve", "GTP-U", "MPLS", "PPPoE")


@cache
def _result(name: str) -> AnalysisResult:
    return analyze(DATA / name)


def _make_oracle():  # noqa: ANN202 (a module loaded from its path)
    spec = importlib.util.spec_from_file_location("tunnels_make_oracle", DATA / "make_oracle.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_tunnel_kind_has_a_capture() -> None:
    assert len(CAPTURES) == 15
    for o in ORACLE.values():  # each capture holds the traffic make_captures.py sent through its tunnel
        assert (len(o["streams"]), o["syn"], o["syn_ack"], o["resets"]) == (4, 4, 3, 1)
        assert (o["dns_queries"], o["dns_responses"]) == (3, 3)


@pytest.mark.parametrize("name", CAPTURES)
def test_counts_match_tshark(name: str) -> None:
    o, r = ORACLE[name], _result(name)
    assert r.tcp.conversations == len(o["streams"])
    assert (r.tcp.syn, r.tcp.syn_ack, r.tcp.resets) == (o["syn"], o["syn_ack"], o["resets"])
    assert (r.dns.queries, r.dns.responses) == (o["dns_queries"], o["dns_responses"])


@pytest.mark.parametrize("name", CAPTURES)
def test_connection_encapsulation_matches_tshark(name: str) -> None:
    o, r = ORACLE[name], _result(name)
    assert len(r.connections) == len(o["streams"])
    for c in r.connections:
        want = o["streams"][str(c.stream)]
        assert (c.client, c.client_port, c.server, c.server_port) == (
            want["client"], want["client_port"], want["server"], want["server_port"]
        )
        assert c.encapsulation == [want["encapsulation"]]


@pytest.mark.parametrize("name", CAPTURES)
def test_protocol_hierarchy_matches_tshark_phs(name: str) -> None:
    o, r = ORACLE[name], _result(name)
    ours = {p.protocol: [p.packets, p.bytes] for p in r.protocols}
    for path, (frames, size) in o["phs"].items():
        # Frames tunnelling something other than IP are ours at their outer path (see make_oracle.py).
        for outer, (extra_frames, extra_bytes) in o["tunnelled_non_ip"].items():
            if outer == path or outer.startswith(path + "/"):
                frames, size = frames + extra_frames, size + extra_bytes
        assert ours.get(path) == [frames, size], path
    for path in ours:
        if any(level in path.split("/") for level in TUNNEL_LEVELS):
            assert path in o["phs"], path


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
@pytest.mark.parametrize("name", CAPTURES)
def test_oracle_is_tsharks_view(name: str) -> None:
    assert json.loads(json.dumps(_make_oracle().facts(DATA / name))) == ORACLE[name]
