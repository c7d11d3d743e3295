"""pcap-analyzer engine: turn a packet capture into a diagnosis of latency and performance problems.

Example:
    >>> from pcap_analyzer import analyze
    >>> result = analyze("capture.pcapng")
    >>> result.tcp.retransmissions
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pcap_analyzer.api import analyze
    from pcap_analyzer.report.model import AnalysisResult

__all__ = ["AnalysisResult", "__version__", "analyze"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import pcap_analyzer` (e.g. for __version__) does not load NumPy and Numba.
    if name == "analyze":
        from pcap_analyzer.api import analyze

        return analyze
    if name == "AnalysisResult":
        from pcap_analyzer.report.model import AnalysisResult

        return AnalysisResult
    raise AttributeError(f"module 'pcap_analyzer' has no attribute {name!r}")
