"""The `pcap-analyzer` console script: the engine's commands plus the web service's (serve, db, users, ...).

Web-service commands import their dependencies lazily, so `pcap-analyzer analyze` works on an engine-only
install; a plain `analyze` invocation does not even load Typer (pcap_analyzer.cli_analyze).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer


def build_cli() -> typer.Typer:
    """The whole command line: the engine's Typer app with the web service's commands added."""
    from app.cli_db import db_app, users_app
    from app.cli_service import register_service_commands
    from pcap_analyzer.cli import app as cli

    if not getattr(cli, "_service_commands", False):
        cli.add_typer(db_app, name="db", help="Database migrations (Alembic) on the configured DATABASE_URL.")
        cli.add_typer(users_app, name="users", help="Manage user accounts.")
        register_service_commands(cli)
        cli._service_commands = True  # type: ignore[attr-defined]
    return cli


def __getattr__(name: str) -> Any:
    if name == "cli":  # built on first use, so that `from app.cli import main` stays light
        return build_cli()
    raise AttributeError(f"module 'app.cli' has no attribute {name!r}")


def main() -> None:
    """Entry point of the console script (exits without the slow interpreter teardown, see `run`)."""
    from pcap_analyzer.cli_analyze import fast_analyze

    fast_analyze(sys.argv[1:])  # a plain `analyze`: runs and ends the process here
    from pcap_analyzer.cli import run

    run(build_cli())
