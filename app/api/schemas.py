"""Request and response bodies of the API that are not domain models (tokens, messages, admin actions)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.models.task import UtcDateTime
from app.security import MIN_PASSWORD_LENGTH

# The password policy (app.security) checks the length and gives the clearer message; the schema states the
# same minimum so API clients see the real rule.
_NEW_PASSWORD_SCHEMA = {"minLength": MIN_PASSWORD_LENGTH}


class ErrorOut(BaseModel):
    """Every expected failure: a message for a person."""

    detail: str


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: UtcDateTime
    must_change_password: bool = False


class SessionOut(BaseModel):
    """Answer to a browser sign-in: the cookie carries the token; the CSRF token goes in X-CSRF-Token."""

    username: str
    expires_at: UtcDateTime
    csrf_token: str
    must_change_password: bool = False


class CsrfOut(BaseModel):
    csrf_token: str
    header_name: str = "X-CSRF-Token"


class MessageOut(BaseModel):
    detail: str


class UserOut(BaseModel):
    """A user account as the API shows it (never the password hash)."""

    id: str
    username: str
    email: str
    role: str
    is_active: bool
    is_approved: bool
    approved_by: str | None = None
    approved_at: UtcDateTime | None = None
    created_at: UtcDateTime | None = None
    last_login: UtcDateTime | None = None
    must_change_password: bool = False
    totp_enabled: bool = False


class UserList(BaseModel):
    users: list[UserOut]
    total: int


class RegisterIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024, json_schema_extra=_NEW_PASSWORD_SCHEMA)


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024, json_schema_extra=_NEW_PASSWORD_SCHEMA)


class AdminCreateUserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=254)
    role: str = Field(default="user", pattern="^(user|admin)$")


class AdminCreatedUserOut(BaseModel):
    user: UserOut
    temporary_password: str


class BulkIn(BaseModel):
    user_ids: list[str] = Field(min_length=1, max_length=1000)
    confirm: bool = False  # needed to act on administrators


class AdminResetPasswordIn(BaseModel):
    send_email: bool = False  # also mail the temporary password to the account's address
    confirm: bool = False  # needed when the account is an administrator


class BulkOut(BaseModel):
    done: list[str]
    failed: dict[str, str]


class HealthOut(BaseModel):
    status: str  # "ok" | "degraded"
    database: bool  # reachable (busy counts as reachable)
    database_state: str = "ok"  # "ok" | "busy" (every pooled connection in use) | "down"
    worker: str  # "alive" | "stalled" | "external"
    queue_depth: int | None
    free_disk_bytes: int | None
    problems: list[str]
