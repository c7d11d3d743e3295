"""Application errors: a message for humans plus the HTTP status the API layer maps them to.

Nothing here imports FastAPI: services raise these, app/api translates them.
"""

from __future__ import annotations


class AppError(Exception):
    """An expected failure with a one-line, user-facing message."""

    status_code = 400

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code

    def __str__(self) -> str:
        return self.message


class InvalidInput(AppError):
    """Rejected input (a weak password, a malformed username or email...)."""

    status_code = 400


class WeakPassword(InvalidInput):
    """The password does not satisfy the password policy."""


class PermissionDenied(AppError):
    """The caller is not allowed to do this."""

    status_code = 403


class NotFound(AppError):
    """The referenced object does not exist."""

    status_code = 404


class Conflict(AppError):
    """The request conflicts with the current state (a taken username, an already approved user...)."""

    status_code = 409


class ConfigError(AppError):
    """A setting is missing or invalid; the service cannot start."""

    status_code = 500


class DatabaseUnavailable(AppError):
    """The database cannot be reached or refused the connection."""

    status_code = 503
