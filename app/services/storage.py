"""Files under DATA_DIR: uploads streamed to disk with size, type and decompression checks; report paths.

Names come from task ids only: uploads/<task-id>.<ext>, reports/<task-id>/<attempt>.{json,html}.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from app.errors import AppError

MB = 1024 * 1024
_PCAP_MAGICS = {
    b"\xa1\xb2\xc3\xd4": "pcap",
    b"\xd4\xc3\xb2\xa1": "pcap",
    b"\xa1\xb2\x3c\x4d": "pcap",  # nanosecond resolution
    b"\x4d\x3c\xb2\xa1": "pcap",
    b"\x0a\x0d\x0d\x0a": "pcapng",  # Section Header Block type
}
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_READ_BLOCK = MB
DEFAULT_MAX_RATIO = 100.0  # MAX_DECOMPRESSION_RATIO
RATIO_FLOOR = 64 * MB  # the ratio limit applies beyond this many decompressed bytes


class UploadTooLarge(AppError):
    """The upload (or its decompressed content) is over the configured limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 413)


class UnsupportedCapture(AppError):
    """The upload is not a pcap/pcapng capture (possibly gzip/zstd-compressed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 415)


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """An upload fully written and checked, still under its temporary name."""

    temp_path: Path
    size: int
    sha256: str
    format: str  # "pcap" | "pcapng"
    compression: str | None  # None | "gzip" | "zstd"

    @property
    def extension(self) -> str:
        return self.format + {None: "", "gzip": ".gz", "zstd": ".zst"}[self.compression]


def uploads_dir(data_dir: Path) -> Path:
    return data_dir / "uploads"


def reports_dir(data_dir: Path) -> Path:
    return data_dir / "reports"


def ensure_dirs(data_dir: Path) -> None:
    """Create DATA_DIR/uploads and DATA_DIR/reports."""
    uploads_dir(data_dir).mkdir(parents=True, exist_ok=True)
    reports_dir(data_dir).mkdir(parents=True, exist_ok=True)


def task_reports_dir(data_dir: Path, task_id: str) -> Path:
    """reports/<task-id>/: the report files of every attempt of one task."""
    return reports_dir(data_dir) / task_id


def report_paths(data_dir: Path, task_id: str, attempt: int) -> tuple[Path, Path]:
    """(json, html) report paths of one attempt: reports/<task-id>/<attempt>.{json,html}.

    Each attempt writes only its own files, so an attempt that lost its lease can never overwrite or
    delete the reports of the attempt that completed the task. Tasks completed before this layout keep
    the reports/<task-id>.{json,html} paths recorded in their row, which are served as they are.
    """
    base = task_reports_dir(data_dir, task_id)
    return base / f"{attempt}.json", base / f"{attempt}.html"


def remove_task_reports(data_dir: Path, task_id: str) -> None:
    """Delete reports/<task-id>/ with every attempt's files (the task itself is gone)."""
    shutil.rmtree(task_reports_dir(data_dir, task_id), ignore_errors=True)


def sanitize_filename(name: str | None, max_length: int = 200) -> str:
    """The client's file name reduced to a safe display string (no path, no control characters)."""
    name = unicodedata.normalize("NFKC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > max_length:  # keep the extension: "very-long…name.pcapng"
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16:
            name = f"{stem[: max_length - len(ext) - 2]}….{ext}"
        else:
            name = name[:max_length]
    return name or "capture"


def _sniff(head: bytes) -> str | None:
    return _PCAP_MAGICS.get(head[:4])


def _decompressed_reader(path: Path, compression: str) -> BinaryIO:
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)  # type: ignore[return-value]


def check_compressed(
    path: Path, compression: str, max_decompressed: int, max_ratio: float = DEFAULT_MAX_RATIO
) -> str:
    """Stream-decompress `path` (bounded memory): the inner capture format, or raise 415/413.

    Stops as soon as the content passes `max_decompressed` bytes, or expands more than `max_ratio` times
    the compressed size (beyond RATIO_FLOOR bytes, so small, very compressible captures stay welcome):
    a few KB that unpack to gigabytes (a decompression bomb) are refused in well under a second.
    """
    compressed = max(path.stat().st_size, 1)
    by_ratio = max(int(compressed * max_ratio), RATIO_FLOOR)
    total = 0
    try:
        with _decompressed_reader(path, compression) as reader:
            head = reader.read(4)
            fmt = _sniff(head)
            if fmt is None:
                raise UnsupportedCapture(
                    f"the {compression} file does not contain a pcap or pcapng capture "
                    f"(decompressed content starts with {head.hex() or 'nothing'})"
                )
            total = len(head)
            while block := reader.read(_READ_BLOCK):
                total += len(block)
                if total > max_decompressed:
                    raise UploadTooLarge(
                        f"the decompressed capture exceeds the limit of {max_decompressed // MB} MB"
                    )
                if total > by_ratio:
                    raise UploadTooLarge(
                        f"the {compression} file expands more than {max_ratio:g} times its size "
                        f"({compressed:,} bytes decompress past {total // MB} MB): refused as a "
                        "decompression bomb"
                    )
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise UnsupportedCapture(f"the {compression} data is damaged: {exc}") from exc
    return fmt


async def store_upload(
    chunks: AsyncIterator[bytes],
    data_dir: Path,
    *,
    max_bytes: int,
    max_decompressed: int,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> StoredUpload:
    """Write an upload stream to a temporary file under DATA_DIR/uploads, enforcing the limits as it streams.

    The first bytes must be a pcap/pcapng/gzip/zstd magic number (415 otherwise); more than `max_bytes`
    stops the transfer (413). A compressed upload is then decompressed on the fly (never in memory) to check
    the inner magic and the decompressed size. On any failure the temporary file is removed.
    """
    ensure_dirs(data_dir)
    temp_path = uploads_dir(data_dir) / f".incoming-{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    size = 0
    head = b""
    kind: str | None = None
    try:
        with open(temp_path, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(f"the upload exceeds the limit of {max_bytes // MB} MB")
                if kind is None:
                    head += chunk[: 4 - len(head)]
                    if len(head) >= 4:
                        kind = _classify(head)
                digest.update(chunk)
                out.write(chunk)
        if kind is None:
            raise UnsupportedCapture(
                "the file is empty" if size == 0 else f"the file is too short to be a capture ({size} bytes)"
            )
        compression = None if kind in ("pcap", "pcapng") else kind
        fmt = kind
        if compression is not None:
            fmt = await asyncio.to_thread(
                check_compressed, temp_path, compression, max_decompressed, max_ratio
            )
        return StoredUpload(temp_path, size, digest.hexdigest(), fmt, compression)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()
        raise


def _classify(head: bytes) -> str:
    fmt = _sniff(head)
    if fmt is not None:
        return fmt
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    raise UnsupportedCapture(
        "not a pcap or pcapng capture (nor a gzip/zstd-compressed one): "
        f"the file starts with bytes {head[:4].hex()}"
    )


def commit_upload(stored: StoredUpload, data_dir: Path, task_id: str) -> Path:
    """Give a checked upload its final name, uploads/<task-id>.<ext>."""
    final = uploads_dir(data_dir) / f"{task_id}.{stored.extension}"
    os.replace(stored.temp_path, final)
    return final


def remove_files(*paths: Path | str | None) -> None:
    """Delete files that may or may not exist."""
    for path in paths:
        if path:
            with contextlib.suppress(FileNotFoundError):
                Path(path).unlink()


def free_disk_bytes(data_dir: Path) -> int:
    """Free space on the file system holding DATA_DIR."""
    data_dir.mkdir(parents=True, exist_ok=True)
    st = os.statvfs(data_dir)
    return st.f_bavail * st.f_frsize
