"""Errors and warnings the engine reports: a file that is not a capture, and damage inside one."""

from __future__ import annotations

from dataclasses import dataclass


class CaptureFormatError(ValueError):
    """The file is not a capture we can read (unknown magic, empty, unsupported version)."""


@dataclass(frozen=True, slots=True)
class CaptureWarning:
    """Damage found while reading: where it is, and what was kept.

    Attributes:
        offset: byte offset in the (decompressed) capture stream where the problem starts.
        packet_index: 0-based index of the record that could not be read (= packets kept before it).
        reason: what was wrong, e.g. "record length 4294967295 exceeds 262144 (impossible)".
        bytes_left: bytes after `offset` that were not used, when known.
    """

    offset: int
    packet_index: int
    reason: str
    bytes_left: int | None = None

    def __str__(self) -> str:
        left = f", {self.bytes_left} bytes left unread" if self.bytes_left is not None else ""
        return f"at byte {self.offset} (packet #{self.packet_index + 1}): {self.reason}{left}"
