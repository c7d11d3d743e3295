"""Progress reporting from the engine to its callers (the CLI's progress bar, the worker's snapshots)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Phase(StrEnum):
    """Stages of one analysis, in order."""

    READING = "reading"  # read + decode + flows + TCP + streaming analyzers, one pass over the file
    ANALYZING = "analyzing"  # finalising analyzers, health score and findings
    REPORTING = "reporting"  # building the AnalysisResult
    DONE = "done"


class ProgressCallback(Protocol):
    """Called at least once per chunk and at each phase change."""

    def __call__(self, bytes_done: int, bytes_total: int, packets_done: int, phase: Phase) -> None: ...
