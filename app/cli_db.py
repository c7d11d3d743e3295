"""`pcap-analyzer db ...` and `pcap-analyzer users ...` commands (owned by the database layer).

Errors are reported as one line on stderr with exit code 2 (the convention of app.cli_errors): rejected
input (taken username, weak password...), configuration, unusable paths or database problems.
"""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

from app.db.copy_cli import copy_command
from pcap_analyzer.cli import PlainHelpTyper

db_app = PlainHelpTyper(no_args_is_help=True)
users_app = PlainHelpTyper(no_args_is_help=True)
db_app.command("copy")(copy_command)


def _fail(exc: Exception) -> NoReturn:
    from app.cli_errors import describe_os_error, fail

    fail(describe_os_error(exc) if isinstance(exc, OSError) else str(exc))


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration (alembic upgrade head) to DATABASE_URL."""
    from app.config import database_url_from_env, hide_password
    from app.db.migrate import upgrade_to_head
    from app.errors import AppError

    try:
        url = database_url_from_env()
        revision = upgrade_to_head(url)
    except (AppError, OSError) as exc:
        _fail(exc)
    typer.echo(f"{hide_password(url)}: at revision {revision} (head)")


@db_app.command("current")
def current() -> None:
    """Show the migration revision of DATABASE_URL."""
    from app.db.migrate import current_revision
    from app.errors import AppError

    try:
        revision = current_revision()
    except (AppError, OSError) as exc:
        _fail(exc)
    typer.echo(revision or "none: the database is not initialised (run: pcap-analyzer db upgrade)")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="Login name of the administrator.")],
    email: Annotated[str, typer.Option(help="Email address of the administrator.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Create an approved administrator account (migrating the database first if needed)."""
    from app.errors import AppError
    from app.models.user import UserCreate, UserRole
    from app.services.user_database import get_user_db_service

    async def run() -> str:
        service = get_user_db_service()
        try:
            await service.init_db()
            user = await service.create_user(
                UserCreate(username=username, email=email, password=password), role=UserRole.ADMIN
            )
        finally:
            await service.close()
        return str(user.id)

    import asyncio  # here, not at the top: `pcap-analyzer analyze` never needs it

    try:
        password = _read_password(password_stdin)
        user_id = asyncio.run(run())
    except (AppError, OSError) as exc:
        _fail(exc)
    typer.echo(f"administrator {username!r} created (id {user_id})")


@users_app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Option(help="Login name of the account.")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the temporary password from stdin instead of generating one."
        ),
    ] = False,
    disable_2fa: Annotated[
        bool, typer.Option("--disable-2fa", help="Also turn off two-factor sign-in (a lost device).")
    ] = False,
) -> None:
    """Give an account a temporary password to change at its next sign-in (signs out every session).

    The recovery path for an operator with shell access, e.g. when no administrator can sign in.
    """
    import secrets

    from app.errors import AppError, NotFound
    from app.services.account_security import AccountSecurity
    from app.services.audit import AuditLog
    from app.services.user_database import get_user_db_service

    async def run(password: str) -> None:
        service = get_user_db_service()
        try:
            await service.init_db()
            user = await service.get_user_by_username(username)
            if user is None:
                raise NotFound(f"no account named {username!r}")
            await service.set_password(user.id, password, username=user.username, temporary=True)
            if disable_2fa:
                await AccountSecurity(service.pool.engine).disable_totp(user.id)
            details = {"via": "cli", "disabled_2fa": disable_2fa}
            await AuditLog(service.pool.engine).record(
                None, "user.reset_password", target_user_id=str(user.id), details=details
            )
        finally:
            await service.close()

    import asyncio

    try:
        password = _read_password(True) if password_stdin else secrets.token_urlsafe(15)
        asyncio.run(run(password))
    except (AppError, OSError) as exc:
        _fail(exc)
    typer.echo(f"{username!r} must change this temporary password at the next sign-in: {password}")
