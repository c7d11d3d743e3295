"""Capture-level facts on ../shared/public-corpus against tshark's oracle: duration (max - min timestamp),
the packets not analysed and tshark's unanswered DNS figure. Collected only when the corpus is there."""

from __future__ import annotations

import json
from pathlib import Path

from pcap_analyzer.api import analyze

PUBLIC = Path(__file__).resolve().parents[3] / "shared" / "public-corpus"
# Records with an invalid sub-second field (>= 1e6 us / 1e9 ns): tshark 4.0 turns them into odd times of its
# own (see tcpdump's timestamp_invalid_* tests); we keep the reader's reading of them.
INVALID_SUBSECOND = {
    "suri__tests__transform-base64-7296__input.pcap",
    "tcpdump__tests__rx_serviceid_oobr.pcap",
    "tcpdump__tests__timestamp_invalid_micro.pcap",
    "tcpdump__tests__timestamp_invalid_nano.pcap",
}

if PUBLIC.is_dir():

    def test_duration_is_tsharks_on_the_public_corpus() -> None:
        oracle = json.loads((PUBLIC / "oracle.json").read_text())["captures"]
        wrong = {}
        checked = 0
        for name, facts in sorted(oracle.items()):
            want = facts["file"]["duration_s"]
            if name in INVALID_SUBSECOND or want is None:
                continue
            c = analyze(PUBLIC / name).capture
            if c.packets != facts["file"]["frames"]:
                continue  # damaged file read to a different end: a different question
            checked += 1
            if abs(c.duration_s - want) > 1e-5:
                wrong[name] = (c.duration_s, want)
        assert checked >= 380 and wrong == {}

    def test_tsharks_unanswered_dns_figure_on_the_public_corpus() -> None:
        """Where we see tshark's DNS messages (same query and response counts), its figure of query frames
        without dns.response_in is exact, malformed queries (a junk request, a fuzzed trace) included."""
        oracle = json.loads((PUBLIC / "oracle.json").read_text())["captures"]
        wrong, checked = {}, 0
        for name, facts in sorted(oracle.items()):
            od = facts["dns"]
            if not od["queries"]:
                continue
            d = analyze(PUBLIC / name).dns
            if (d.queries, d.responses) != (od["queries"], od["responses"]):
                continue  # DNS we do not decode (heuristic ports, quoted in ICMP errors): another question
            checked += 1
            if d.unanswered_query_frames != od["unanswered_queries"]:
                wrong[name] = (d.unanswered_query_frames, od["unanswered_queries"])
        assert checked >= 55
        assert wrong == {}

    def test_nothing_analysed_never_scores_100_on_the_public_corpus() -> None:
        healthy_blind = []
        for path in sorted(p for p in PUBLIC.iterdir() if ".pcap" in p.name):
            r = analyze(path)
            c = r.capture
            if c.packets >= 20 and c.not_analysed_packets * 2 >= c.packets and r.health.score == 100:
                healthy_blind.append(path.name)
        assert healthy_blind == []
