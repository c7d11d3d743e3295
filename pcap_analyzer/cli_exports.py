"""Command-line summary lines of services, DNS domains and the Wireshark filters of the top findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from pcap_analyzer.report.model import AnalysisResult

TOP_FILTERS = 3


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return ""  # unreachable


def summary_rows(t: Table, result: AnalysisResult) -> None:
    """The top services and DNS domains, one row each."""
    if result.services:
        top = ", ".join(
            f"{s.service or 'unassigned'} {s.protocol}/{s.port} ({s.connections:,} conn., {_size(s.bytes)})"
            for s in result.services[:3]
        )
        t.add_row("Services", top)
    if result.dns.domains:
        top = ", ".join(
            f"{d.domain} {d.queries:,} q. ({sum(d.failures.values()):,} failed, {d.unanswered:,} unanswered)"
            for d in result.dns.domains[:3]
        )
        t.add_row("DNS domains", top)


def print_filters(console: Console, result: AnalysisResult) -> None:
    """The Wireshark display filter of each of the top findings, ready to paste."""
    from rich.markup import escape

    shown = [f for f in result.findings[:TOP_FILTERS] if f.filter]
    if shown:
        console.print("Wireshark filters of the top findings:")
    for i, f in enumerate(shown, 1):
        console.print(f"  {i}. [dim]{escape(f.id)}[/]  {escape(f.filter)}", soft_wrap=True, highlight=False)
