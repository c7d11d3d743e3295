"""User accounts: roles, the data needed to create one, and the stored record (without its hash)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UserRole(StrEnum):
    ADMIN = "admin"
    USER = "user"


# How list_users filters accounts: pending = not yet approved, approved = approved and active,
# blocked = deactivated by an administrator.
UserStatus = Literal["pending", "approved", "blocked"]


class UserCreate(BaseModel):
    """What a new account needs. Validation (policy, formats) happens in the user service so that it
    raises the application's errors (app.errors), not pydantic's."""

    username: str
    email: str
    password: str = Field(repr=False)


class User(BaseModel):
    """A stored account. The password hash never leaves the user service."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    username: str
    email: str
    role: UserRole
    is_active: bool
    is_approved: bool
    approved_by: uuid.UUID | None = None
    approved_at: datetime | None = None
    must_change_password: bool = False
    failed_logins: int = 0
    created_at: datetime
    updated_at: datetime
    last_login: datetime | None = None
    token_version: int = 0
    totp_enabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN

    @property
    def status(self) -> UserStatus:
        if not self.is_active:
            return "blocked"
        return "approved" if self.is_approved else "pending"


class UserListFilter(BaseModel):
    """Filters and pagination of list_users."""

    status: UserStatus | None = None
    role: UserRole | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
