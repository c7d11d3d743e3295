"""`pcap-analyzer analyze FILE` without Typer: its implementation and a fast path for its command line.

Typer (and the pydantic type adapters it builds for every parameter) costs about as much as a small
analysis, so a plain `analyze` invocation (`fast_analyze`) is parsed here and everything else (help,
unknown options, other commands, anything unusual) goes to the Typer command line of pcap_analyzer.cli,
which calls the same `analyze_file`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from rich.console import Console

    from pcap_analyzer.report.model import AnalysisResult

# Exit codes of every command (README, "Command line"): 0 done; 1 an unexpected failure (a bug: the traceback
# is printed); 2 an expected failure reported in one line (bad argument, input, configuration, setting,
# unusable path, unreachable database); 130 interrupted (Ctrl-C).
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

_VALUE_OPTIONS = {
    "--json": "json_out",
    "--html": "html_out",
    "--output-dir": "output_dir",
    "--config": "config",
    "--csv": "csv_dir",
}
_FLAGS = {"--quiet": "quiet", "-q": "quiet"}


def parse_analyze(argv: list[str]) -> dict[str, object] | None:
    """`analyze_file` keyword arguments for `argv` = ["analyze", FILE, options...] in a plain form.

    None for anything else (help, unknown or repeated options, a missing value, a value or file that looks
    like an option, `--`): the Typer command line then parses it and gives its usual messages.
    """
    if not argv or argv[0] != "analyze":
        return None
    kwargs: dict[str, object] = {}
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in _VALUE_OPTIONS:
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            key = _VALUE_OPTIONS[name]
            if not value or value.startswith("-") or key in kwargs:
                return None
            kwargs[key] = Path(value)
        elif arg in _FLAGS:
            kwargs["quiet"] = True
        elif arg.startswith("-") or not arg or "file" in kwargs:
            return None
        else:
            kwargs["file"] = Path(arg)
        i += 1
    return kwargs if "file" in kwargs else None


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> SystemExit:
    sys.stderr.write(f"error: {message}\n")
    return SystemExit(code)


def _remove_partial(paths: list[Path]) -> None:
    """Delete the temporary files an interrupted or failed writer left next to its target."""
    for path in paths:
        with contextlib.suppress(OSError):  # absent, or its folder was never made
            path.with_name(path.name + ".tmp").unlink()


def _interrupted(written: list[Path], wanted: list[Path]) -> SystemExit:
    missing = [str(p) for p in wanted if p not in written]
    done = f"; written: {', '.join(map(str, written))}" if written else ""
    sys.stderr.write(f"interrupted: not written: {', '.join(missing) or 'nothing'}{done}\n")
    return SystemExit(EXIT_INTERRUPTED)


def _default_paths(capture: Path, out_dir: Path) -> tuple[Path, Path]:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = out_dir / f"{capture.stem}-{stamp}"
    return base.with_suffix(".json"), base.with_suffix(".html")


def _write_html(result: AnalysisResult, path: Path) -> bool:
    try:
        from pcap_analyzer.report.html import write_html
    except ImportError:
        sys.stderr.write("warning: the HTML report is not available in this installation\n")
        return False
    write_html(result, path)
    return True


class _RichProgress:
    """A Rich progress bar (bytes, packets, ETA) fed by the engine's on_progress callback."""

    def __enter__(self) -> _RichProgress:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[packets]:>12,} packets"),
            TimeRemainingColumn(),
            transient=True,
            console=_stderr_console(),
        )
        self._progress.__enter__()
        self._task = self._progress.add_task("reading", total=None, packets=0)
        return self

    def __call__(self, bytes_done: int, bytes_total: int, packets_done: int, phase: object) -> None:
        name = getattr(phase, "value", str(phase))
        self._progress.update(
            self._task,
            completed=bytes_done,
            total=bytes_total or None,
            packets=packets_done,
            description=name,
        )

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def _fmt(v: float | None, unit: str = " ms") -> str:
    return "-" if v is None else f"{v:,.1f}{unit}"


def _print_summary(console: Console, result: AnalysisResult) -> None:
    from rich.table import Table

    from pcap_analyzer.cli_exports import print_filters, summary_rows

    cap, tcp, dns, h = result.capture, result.tcp, result.dns, result.health
    colour = "green" if h.score >= 80 else "yellow" if h.score >= 50 else "red"
    t = Table(
        title=f"{cap.file_name}: health [{colour}]{h.score}/100[/]", show_header=False, title_justify="left"
    )
    t.add_column("figure", style="bold")
    t.add_column("value")
    t.add_row(
        "Capture", f"{cap.format}, {cap.packets:,} packets, {cap.bytes:,} bytes, {cap.duration_s:,.1f} s"
    )
    t.add_row(
        "TCP",
        f"{tcp.conversations:,} connections, {tcp.retransmissions:,} retransmissions "
        f"({tcp.fast_retransmissions:,} fast), {tcp.duplicate_acks:,} dup ACKs, "
        f"{tcp.zero_windows:,} zero windows, {tcp.resets:,} resets",
    )
    t.add_row(
        "TCP timing",
        f"handshake median {_fmt(tcp.handshake_ms.median)}, ACK RTT median "
        f"{_fmt(tcp.ack_rtt_ms.median)} / p95 {_fmt(tcp.ack_rtt_ms.p95)}",
    )
    t.add_row(
        "DNS",
        f"{dns.queries:,} queries, {dns.unanswered:,} unanswered, response median "
        f"{_fmt(dns.response_time_ms.median)} / p95 {_fmt(dns.response_time_ms.p95)}",
    )
    # TLS (pcap_analyzer/analyzers/tls.py)
    tls = result.tls
    if tls.handshakes:
        alerts = ", ".join(f"{n:,} {name}" for name, n in list(tls.alerts.items())[:3]) or "none"
        t.add_row(
            "TLS",
            f"{tls.handshakes:,} ClientHellos, {tls.completed:,} completed, {tls.failed:,} failed; "
            f"ClientHello->ServerHello median {_fmt(tls.handshake_ms.median)} / p95 "
            f"{_fmt(tls.handshake_ms.p95)}; alerts: {alerts}",
        )
    summary_rows(t, result)
    # ICMP and TCP waits (issue 14)
    ic, w = result.icmp, result.tcp_waits
    if ic.packets:
        mtus = f" (MTU {', '.join(map(str, ic.next_hop_mtus))})" if ic.next_hop_mtus else ""
        t.add_row(
            "ICMP",
            f"{ic.packets:,} messages, {ic.unreachable:,} unreachable, {ic.fragmentation_needed:,} "
            f"fragmentation needed{mtus}, {ic.time_exceeded:,} time exceeded, {ic.redirects:,} redirects",
        )
    if w.stalled_connections or w.idle_connections or w.never_closed_connections or w.syn_retry_connections:
        t.add_row(
            "TCP waits",
            f"{w.stalled_connections:,} stalled by zero windows ({w.stalled_ms / 1000:,.1f} s), "
            f"{w.idle_connections:,} idle, {w.never_closed_connections:,} never closed, "
            f"{w.syn_retry_nonstandard:,} of {w.syn_retry_connections:,} SYN retries not RFC 6298",
        )
    # HTTP and where its time goes
    http = result.http
    if http.requests:
        errors = sum(n for code, n in http.status_codes.items() if code[0] in "45")
        t.add_row(
            "HTTP",
            f"{http.requests:,} requests, {http.responses:,} responses ({errors:,} 4xx/5xx), "
            f"{http.unanswered:,} unanswered, first byte median {_fmt(http.response_time_ms.median)} / p95 "
            f"{_fmt(http.response_time_ms.p95)}",
        )
    for srv in result.latency_breakdown[:3]:
        if srv.dominant:
            t.add_row(
                "Latency",
                f"{srv.server}: {srv.dominant} {srv.dominant_pct:.0f}% of {_fmt(srv.total_ms)} median "
                f"(network {_fmt(srv.network_ms)}, server {_fmt(srv.server_ms)}, transfer "
                f"{_fmt(srv.transfer_ms)}; {srv.requests:,} requests)",
            )
    slowest = result.latency_connections[:1]
    for c in slowest:
        if c.dominant:
            t.add_row(
                "Slowest connection",
                f"tcp.stream {c.stream} ({', '.join(c.names)}): {_fmt(c.time_ms)} over {c.exchanges:,} "
                f"exchanges, {c.dominant} {c.dominant_pct:.0f}%",
            )
    for r in h.reasons[:5]:
        t.add_row(f"-{r.penalty:g}", r.message)
    console.print(t)
    if result.findings:
        f = Table(title="Top findings", title_justify="left")
        f.add_column("severity")
        f.add_column("finding")
        style = {"critical": "red", "warning": "yellow"}
        for item in result.findings[:8]:
            f.add_row(f"[{style.get(item.severity, 'cyan')}]{item.severity}[/]", item.title)
        console.print(f)
        print_filters(console, result)


def analyze_file(
    file: Path,
    json_out: Path | None = None,
    html_out: Path | None = None,
    output_dir: Path = Path("reports"),
    config: Path | None = None,
    quiet: bool = False,
    csv_dir: Path | None = None,
) -> None:
    """Analyse FILE; write JSON + HTML reports to --output-dir, or only those named by --json/--html/--csv."""
    # The engine does no linear algebra: OpenBLAS's thread pool, started when NumPy loads, only costs CPU.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Importing NumPy, Numba and the report models creates many long-lived objects that the cyclic GC would
    # rescan over and over while they load (~50 ms): it is off meanwhile, then they are set aside for good.
    gc.disable()
    try:
        from pcap_analyzer.api import analyze as run_analysis
        from pcap_analyzer.config import ConfigError, load_config
        from pcap_analyzer.errors import CaptureFormatError
        from pcap_analyzer.report.json import write_json
    finally:
        gc.freeze()
        gc.enable()

    if file.is_dir():
        raise _fail(f"{file} is a directory, not a capture file")
    if not file.is_file():
        raise _fail(f"{file}: no such capture file")
    try:
        cfg = load_config(config) if config is not None else None
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if json_out is None and html_out is None and csv_dir is None:
        json_out, html_out = _default_paths(file, output_dir)
    wanted = [p for p in (json_out, html_out) if p is not None]
    if csv_dir is not None and csv_dir.exists() and not csv_dir.is_dir():
        raise _fail(f"--csv {csv_dir}: not a folder")
    show = not quiet and sys.stderr.isatty()
    try:
        if show:
            with _RichProgress() as progress:
                result = run_analysis(file, config=cfg, on_progress=progress)
        else:
            result = run_analysis(file, config=cfg)
    except CaptureFormatError as exc:
        raise _fail(str(exc)) from None  # the message names the file
    except OSError as exc:
        raise _fail(f"{file}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        raise _interrupted([], wanted) from None
    written: list[Path] = []
    try:
        for path in wanted:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Each writer renames a complete temporary file into place, so a report is whole or absent.
        if json_out is not None:
            written.append(write_json(result, json_out))
        if html_out is not None and _write_html(result, html_out):
            written.append(html_out)
        if csv_dir is not None:
            from pcap_analyzer.report.csv_export import write_csv

            written += write_csv(result, csv_dir)
    except OSError as exc:
        _remove_partial(wanted)
        where = exc.filename if exc.filename is not None else "the report"
        raise _fail(f"cannot write {where}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        _remove_partial(wanted)
        raise _interrupted(written, wanted) from None
    if result.capture.truncated:
        reasons = "; ".join(w.reason for w in result.capture.warnings[:2]) or "reading stopped early"
        sys.stderr.write(
            f"warning: the capture is truncated or damaged ({reasons}); "
            f"results cover the first {result.capture.packets} packets\n"
        )
    if not quiet:
        from rich.console import Console

        console = Console()
        _print_summary(console, result)
        for path in written:
            console.print(f"report: [bold]{path}[/]")


def exit_process(code: object) -> NoReturn:
    """End the process with `code` (a SystemExit code) at once, output flushed (see pcap_analyzer.cli.run)."""
    if code is None:
        code = 0
    elif not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def fast_analyze(argv: list[str]) -> None:
    """Run `analyze` and end the process when `argv` is a plain analyze invocation; else return."""
    kwargs = parse_analyze(argv)
    if kwargs is None:
        return
    try:
        analyze_file(**kwargs)  # type: ignore[arg-type]
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = EXIT_INTERRUPTED
    exit_process(code)
