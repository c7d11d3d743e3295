"""The engine's command line: `pcap-analyzer analyze FILE`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from pcap_analyzer.cli_analyze import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    analyze_file,
    exit_process,
    fast_analyze,
)

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "PlainHelpTyper", "app", "main", "run"]


class _PlainHelp:
    """Help text as people write it: `FILE` in the usage line (Typer writes `{file}` for a required
    argument) and nothing after a flag in the options table (Typer shows `<bool>` for flags that take no
    value). Mixed into every command and group of the command line."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""  # shown verbatim in the type column
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        return [p[1:-1].upper() if p.startswith("{") and p.endswith("}") else p for p in pieces]


class PlainHelpGroup(_PlainHelp, TyperGroup):
    """A Typer group with plain help text (see _PlainHelp)."""


class PlainHelpCommand(_PlainHelp, TyperCommand):
    """A Typer command with plain help text (see _PlainHelp)."""


class PlainHelpTyper(typer.Typer):
    """typer.Typer whose group and commands (unless given another `cls`) have plain help text."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", PlainHelpGroup)
        super().__init__(**kwargs)

    def command(
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Any:
        return super().command(name, cls=cls or PlainHelpCommand, **kwargs)


app = PlainHelpTyper(
    no_args_is_help=True,
    add_completion=False,
    help="Diagnose network performance from packet captures.",
)

# Exit codes: see pcap_analyzer.cli_analyze (re-exported for the web service's commands).


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"pcap-analyzer {version('pcap-analyzer')}")
        except PackageNotFoundError:  # running from a source tree that was never installed
            typer.echo("pcap-analyzer (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    _show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """pcap-analyzer: network latency and performance diagnosis from pcap/pcapng captures."""


@app.command()
def analyze(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="Capture file (pcap, pcapng; gzip/zstd compressed too).")
    ],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON report here.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Folder for reports without an explicit path.")
    ] = Path("reports"),
    config: Annotated[Path | None, typer.Option("--config", help="YAML file of thresholds.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
    csv_dir: Annotated[
        Path | None, typer.Option("--csv", help="Write the tables as CSV files into this folder.")
    ] = None,
) -> None:
    """Analyse FILE; write JSON + HTML reports to --output-dir, or only those named by --json/--html/--csv."""
    analyze_file(file, json_out, html_out, output_dir, config, quiet, csv_dir)


def run(command: typer.Typer) -> NoReturn:
    """Run `command` as this process's command line, then end the process at once.

    Tearing down a Python interpreter that has loaded Numba and LLVM takes longer than a small analysis
    (~0.15 s of object finalisation), so once the command has finished and its output is flushed the
    process exits without it. Only for a whole process: never call this from a library or a test.
    """
    try:
        command()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:  # Ctrl-C outside a command's own handling (while starting up, in a server)
        sys.stderr.write("interrupted\n")
        code = EXIT_INTERRUPTED
    exit_process(code)


def main() -> NoReturn:
    """Run the engine-only command line (a plain `analyze` without Typer, see pcap_analyzer.cli_analyze)."""
    fast_analyze(sys.argv[1:])
    run(app)
