"""One-line errors for the service commands (serve, worker, cleanup, db, users).

Every command follows the exit-code convention of pcap_analyzer.cli: 0 done, 2 an expected failure told
in one line on stderr (bad input or setting, unusable path, unreachable database), 1 only for a bug.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from pcap_analyzer.cli import EXIT_BAD_INPUT

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """Print `error: message` on stderr and exit with the expected-failure code."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def describe_os_error(exc: OSError) -> str:
    """`cannot use PATH: Permission denied` style text for a file-system failure."""
    path = exc.filename if exc.filename is not None else "a file"
    return f"cannot use {path}: {exc.strerror or exc}"


def clean_errors(run: Callable[[], T]) -> T:
    """Run a command body; an expected failure (bad setting, database away, unusable folder) is one line
    on stderr and exit code 2, never a traceback."""
    from app.errors import AppError

    try:
        return run()
    except AppError as exc:
        fail(exc.message)
    except OSError as exc:
        fail(describe_os_error(exc))


def own_command() -> str:
    """How to run this same console script from the current directory (for hints printed to the user).

    `pcap-analyzer` when that name on PATH is this program; otherwise the path it was started by, e.g.
    `.venv/bin/pcap-analyzer` after `./scripts/serve`.
    """
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "pcap-analyzer"
    started = Path(argv0)
    if started.name in ("__main__.py", "-c") or not started.exists():
        return "pcap-analyzer"
    on_path = shutil.which("pcap-analyzer")
    if on_path and os.path.realpath(on_path) == os.path.realpath(started):
        return "pcap-analyzer"
    absolute = os.path.abspath(started)
    relative = os.path.relpath(absolute, Path.cwd())
    if relative.startswith(".."):
        return absolute
    return relative if os.sep in relative else f".{os.sep}{relative}"
