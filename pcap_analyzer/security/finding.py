"""Building a SecurityFinding from the rows behind it: addresses named, time window, frames, filter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pcap_analyzer.report.model import SecurityEvidence, SecurityFinding
from pcap_analyzer.security.addresses import addr_text

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Caps:
    """How much of a finding's evidence is listed."""

    addresses: int = 20
    frames: int = 20


def addresses(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64], cap: int) -> tuple[list[str], int]:
    """(text of up to `cap` distinct addresses, in order of first appearance; how many distinct in all)."""
    if hi.size == 0:
        return [], 0
    pairs = np.stack([hi, lo], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    first.sort()
    return [addr_text(hi[i], lo[i]) for i in first[:cap].tolist()], int(first.size)


def make_finding(
    *,
    kind: str,
    severity: str,
    title: str,
    detail: str,
    sources: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]],
    targets: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]],
    first_ns: int,
    last_ns: int,
    count: int,
    unit: str,
    frames: npt.NDArray[np.int64],
    display_filter: str,
    facts: dict[str, float | int | str],
    caps: Caps,
) -> SecurityFinding:
    """One finding; `frames` are sorted and capped, sources and targets deduplicated and capped."""
    src, n_src = addresses(*sources, caps.addresses)
    dst, n_dst = addresses(*targets, caps.addresses)
    shown = np.unique(frames[frames > 0])[: caps.frames]
    return SecurityFinding(
        kind=kind,
        severity=severity,
        title=title,
        detail=detail,
        sources=src,
        targets=dst,
        first_ts=first_ns / 1e9,
        last_ts=last_ns / 1e9,
        evidence=SecurityEvidence(count=count, unit=unit, frames=shown.tolist(), filter=display_filter),
        facts={**facts, "sources_total": n_src, "targets_total": n_dst},
    )


def duration_text(seconds: float) -> str:
    """'3.2 s', '4.5 min', '2.0 h'."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def quote(text: str) -> str:
    """A Wireshark filter string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
