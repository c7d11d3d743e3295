"""The `pcap-analyzer db copy` command: Rich progress while copying, a verification table at the end.

Exit codes: 0 copied and verified; 1 database or configuration problem; 2 refused (nothing changed:
source not at head, target not empty, unfinished copy found...); 3 copied but the verification found
differences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from app.db.copy_verify import TableCheck

EXIT_REFUSED = 2
EXIT_MISMATCH = 3


def copy_command(
    source: Annotated[
        str, typer.Option("--from", help="Source database URL (e.g. sqlite:///data/pcap_analyzer.db).")
    ],
    target: Annotated[
        str, typer.Option("--to", help="Target database URL (e.g. postgresql://user:pass@host/db).")
    ],
    append: Annotated[
        bool, typer.Option("--append", help="Allow a target that already holds rows (ids must not clash).")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an unfinished (interrupted) copy into the target.")
    ] = False,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Empty the target of an unfinished copy, then copy from the start."),
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows per transaction.")] = 1000,
) -> None:
    """Copy every table of a deployment's database to another (SQLite -> PostgreSQL), then verify it."""
    import asyncio

    from rich.console import Console

    from app.db.copy import CopyRefused, copy_database
    from app.errors import AppError

    console = Console(stderr=True)
    try:
        with _RichReporter(console) as reporter:
            result = asyncio.run(
                copy_database(
                    source,
                    target,
                    append=append,
                    resume=resume,
                    restart=restart,
                    batch_size=batch_size,
                    reporter=reporter,
                )
            )
    except CopyRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    except (AppError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print_checks(result.checks)
    if not result.ok:
        bad = ", ".join(c.table for c in result.checks if not c.ok)
        typer.echo(f"error: the verification found differences in: {bad}", err=True)
        raise typer.Exit(EXIT_MISMATCH)
    rows = sum(c.source.rows for c in result.checks)
    typer.echo(
        f"copied and verified {rows} rows in {len(result.checks)} tables "
        f"(copy {result.copy_seconds:.1f} s, verification {result.verify_seconds:.1f} s)"
    )


class _RichReporter:
    """Shows one progress bar per copy step (see app.db.copy.Reporter)."""

    def __init__(self, console: object) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,  # type: ignore[arg-type]
            transient=False,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> _RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def message(self, text: str) -> None:
        self.progress.console.print(text)

    def start(self, step: str, total: int, done: int) -> None:
        self.tasks[step] = self.progress.add_task(step, total=max(total, done), completed=done)

    def advance(self, step: str, rows: int) -> None:
        self.progress.advance(self.tasks[step], rows)  # type: ignore[arg-type]


def _print_checks(checks: list[TableCheck]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Verification (source vs target)")
    for name in ("table", "source rows", "target rows", "source checksum", "target checksum", "result"):
        table.add_column(name, justify="right" if "rows" in name else "left")
    for check in checks:
        result = "[green]OK[/]" if check.ok else "[red]DIFFERENT[/]"
        table.add_row(
            check.table,
            str(check.source.rows),
            str(check.target.rows),
            check.source.hexdigest[:16],
            check.target.hexdigest[:16],
            result,
        )
    Console(width=120).print(table)
