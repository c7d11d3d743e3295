"""analyze() end to end, its configuration (AnalysisConfig, YAML) and the committed JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pcap_analyzer.config import AnalysisConfig, ConfigError, load_config, resolve_config
from pcap_analyzer.report.base import from_json, to_data
from pcap_analyzer.report.json import SCHEMA_PATH, json_schema, schema_text

REPO = Path(__file__).resolve().parents[2]


def _without(result: Any, keys: set[str]) -> dict[str, Any]:
    """The result as plain data without `keys` (those that differ between two runs of one capture)."""
    data: dict[str, Any] = to_data(result)
    return {k: v for k, v in data.items() if k not in keys}


def test_yaml_config_overrides_defaults(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("gap_threshold_s: 0.25\nmax_connections: 7\n")
    cfg = load_config(p)
    assert (cfg.gap_threshold_s, cfg.max_connections) == (0.25, 7)
    assert cfg.dns_slow_ms == AnalysisConfig().dns_slow_ms


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gap_treshold_s: 1\n", "unknown key 'gap_treshold_s'"),
        ("max_connections: -3\n", "max_connections"),
        ("- a\n- b\n", "must hold a mapping"),
        ("a: [1,\n", "not valid YAML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(p)


def test_config_accepts_mapping_path_and_object(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("")
    assert resolve_config(p) == AnalysisConfig()
    assert resolve_config({"high_rtt_ms": 80}).high_rtt_ms == 80
    with pytest.raises(ConfigError, match="unknown key 'nope'"):
        resolve_config({"nope": 1})
    with pytest.raises(ConfigError, match="no_such.yaml"):
        resolve_config(tmp_path / "no_such.yaml")


def test_example_config_and_docs_list_every_key() -> None:
    example = load_config(REPO / "config.example.yaml")
    assert example == AnalysisConfig()  # the example shows the defaults
    docs = (REPO / "docs" / "configuration.md").read_text()
    for key in AnalysisConfig.__struct_fields__:
        assert f"`{key}`" in docs, key


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "regenerate with: python -m pcap_analyzer.report.json"
    )
    schema = json_schema()
    for key in (
        "schema_version",
        "capture",
        "tcp",
        "dns",
        "udp_streams",
        "top_talkers",
        "conversations",
        "health",
        "findings",
    ):
        assert key in schema["properties"]
    assert json.loads(SCHEMA_PATH.read_text())["title"] == "AnalysisResult"


def test_json_report_doc_lists_the_contract_keys() -> None:
    doc = (REPO / "docs" / "json-report.md").read_text()
    for key in (
        "capture.format",
        "capture.truncated",
        "tcp.retransmissions",
        "tcp.ack_rtt_ms.p95",
        "tcp.handshake_ms.median",
        "dns.response_time_ms.p95",
        "dns.rcodes",
        "health.reasons",
        "schema_version",
        "findings",
    ):
        assert f"`{key}`" in doc, key


def test_progress_every_chunk_and_each_phase(corpus_dir: Path, oracle: dict[str, Any]) -> None:
    from pcap_analyzer import analyze
    from pcap_analyzer.progress import Phase

    calls: list[tuple[int, int, int, Phase]] = []
    f = corpus_dir / "netns_mixed_s128.pcap"
    r = analyze(f, config={"chunk_bytes": 1 << 20}, on_progress=lambda *a: calls.append(a))
    phases = [c[3] for c in calls]
    reading = [c for c in calls if c[3] is Phase.READING]
    assert len(reading) >= f.stat().st_size // (1 << 20)  # at least one call per 1 MiB chunk
    assert phases[len(reading) :] == [Phase.ANALYZING, Phase.REPORTING, Phase.DONE]
    done = [c[0] for c in reading]
    assert done == sorted(done) and calls[-1][0] == calls[-1][1] == f.stat().st_size
    assert calls[-1][2] == r.capture.packets == oracle[f.name]["file"]["frames"]


def test_result_fills_every_section_within_its_caps(
    corpus_dir: Path, oracle: dict[str, Any], tmp_path: Path
) -> None:
    from pcap_analyzer import AnalysisResult, analyze
    from pcap_analyzer.report.json import write_json

    cfg = AnalysisConfig(max_connections=30, detail_connections=3, max_talkers=4)
    r = analyze(corpus_dir / "netns_mixed_s128.pcap", config=cfg)
    assert len(r.connections) == 30
    assert r.tcp.conversations == oracle["netns_mixed_s128.pcap"]["tcp"]["streams"]
    scores = [c.score for c in r.connections]
    assert scores == sorted(scores, reverse=True)  # worst first
    assert [d.stream for d in r.connection_details] == [c.stream for c in r.connections[:3]]
    assert len(r.top_talkers) == 4 and r.conversations and r.protocols and r.timeline.bytes_total
    assert r.throughput.bytes == r.capture.bytes and r.dns.servers
    assert r.limits["connections"] == 30 and r.config == cfg.as_report_dict()
    assert r.findings and 0 <= r.health.score < 100
    out = write_json(r, tmp_path / "r.json")
    assert from_json(out.read_bytes(), AnalysisResult) == r


def test_not_a_capture_raises_capture_format_error(tmp_path: Path) -> None:
    from pcap_analyzer import analyze
    from pcap_analyzer.errors import CaptureFormatError

    f = tmp_path / "notes.txt"
    f.write_text("just some text, not a capture\n" * 10)
    with pytest.raises(CaptureFormatError) as info:
        analyze(f)
    assert "\n" not in str(info.value) and str(info.value)


def _read_ahead_threads() -> list[object]:
    import threading

    return [t for t in threading.enumerate() if t.name == "pcap-read-ahead"]


def test_read_ahead_failure_reaches_the_caller(corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pcap_analyzer.api as api

    real = api.decode_chunk
    seen: list[int] = []

    def flaky(chunk):  # noqa: ANN001, ANN202
        seen.append(chunk.first_index)
        if len(seen) == 3:
            raise RuntimeError("decoder broke")
        return real(chunk)

    monkeypatch.setattr(api, "decode_chunk", flaky)
    with pytest.raises(RuntimeError, match="decoder broke"):
        api.analyze(corpus_dir / "netns_mixed_s128.pcap", config={"chunk_bytes": 1 << 16})
    assert len(seen) == 3 and not _read_ahead_threads()


def test_caller_failure_stops_the_read_ahead(corpus_dir: Path) -> None:
    from pcap_analyzer import analyze

    chunks: list[int] = []

    def stop_early(bytes_done: int, bytes_total: int, packets_done: int, phase: object) -> None:
        chunks.append(packets_done)
        if len(chunks) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyze(corpus_dir / "netns_mixed_s128.pcap", config={"chunk_bytes": 1 << 16}, on_progress=stop_early)
    assert not _read_ahead_threads()


def test_results_do_not_depend_on_read_ahead(corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pcap_analyzer.api as api

    path = corpus_dir / "netns_mixed_s128.pcap"
    threaded = api.analyze(path, config={"chunk_bytes": 1 << 18})

    class Inline:
        def __init__(self, reader, prepare) -> None:  # noqa: ANN001
            self.items = ((prepare(c), reader.bytes_done, reader.packets_done) for c in reader)

        def __enter__(self):  # noqa: ANN204
            return self.items

        def __exit__(self, *exc: object) -> None:
            pass

    monkeypatch.setattr(api, "_ReadAhead", Inline)
    inline = api.analyze(path, config={"chunk_bytes": 1 << 18})
    skip = {"analyzed_at", "elapsed_s"}
    assert _without(threaded, skip) == _without(inline, skip)


def test_results_do_not_depend_on_chunk_size(corpus_dir: Path) -> None:
    from pcap_analyzer.api import analyze

    # per-stream series start when their stream becomes a candidate (after some chunk), so chunks stay big
    # enough here for every candidate to be one from the first chunk on
    path = corpus_dir / "netns_mixed_s128.pcap"
    skip = {"analyzed_at", "elapsed_s", "config"}
    whole = analyze(path, config={"chunk_bytes": 16 << 20})
    halves = analyze(path, config={"chunk_bytes": 4 << 20})
    assert _without(whole, skip) == _without(halves, skip)
