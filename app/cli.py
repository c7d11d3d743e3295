"""The `pcap-analyzer` console script: the engine's commands plus the web service's (serve, db, users, ...).

Web-service commands import their dependencies lazily, so `pcap-analyzer analyze` works on an engine-only
install.
"""

from __future__ import annotations

from app.cli_db import db_app, users_app
from app.cli_service import register_service_commands
from pcap_analyzer.cli import app as cli
from pcap_analyzer.cli import run

cli.add_typer(db_app, name="db", help="Database migrations (Alembic) on the configured DATABASE_URL.")
cli.add_typer(users_app, name="users", help="Manage user accounts.")
register_service_commands(cli)


def main() -> None:
    """Entry point of the console script (exits without the slow interpreter teardown, see `run`)."""
    run(cli)
