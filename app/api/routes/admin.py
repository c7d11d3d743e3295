"""Administration of user accounts; every action is written to the audit log."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from app.api.deps import AdminSession, DbDep, Forbidden, client_ip
from app.api.routes.auth import notify, user_out
from app.api.schemas import (
    AdminCreatedUserOut,
    AdminCreateUserIn,
    AdminResetPasswordIn,
    BulkIn,
    BulkOut,
    ErrorOut,
    MessageOut,
    UserList,
    UserOut,
)
from app.errors import AppError
from app.models.audit import AuditEntry
from app.models.user import User, UserCreate, UserRole
from app.services.storage import remove_files

router = APIRouter(tags=["admin"])
_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409)}
# Acting on another administrator (block, delete, password reset) needs this explicit flag.
Confirm = Annotated[bool, Query(description="confirm an action on another administrator")]


class UserNotFound(AppError):
    def __init__(self) -> None:
        super().__init__("user not found", 404)


def temporary_password() -> str:
    """20 random URL-safe characters: passes the password policy, shown once to the admin."""
    return secrets.token_urlsafe(15)


async def _audit(
    db: DbDep, session: AdminSession, request: Request, action: str, target: str | None, **details: object
) -> None:
    await db.audit.record(
        str(session.user.id), action, target_user_id=target, details=details or None, ip=client_ip(request)
    )


@router.get("/api/users", response_model=UserList, responses=_ERRORS)
async def list_users(
    db: DbDep,
    session: AdminSession,
    status_filter: Annotated[Literal["pending", "approved", "blocked"] | None, Query(alias="status")] = None,
    role: Annotated[Literal["user", "admin"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> UserList:
    """Accounts, filtered by status and role, paginated."""
    users, total = await db.users.list_users(status=status_filter, role=role, limit=limit, offset=offset)
    return UserList(users=[user_out(u) for u in users], total=total)


@router.post(
    "/api/admin/users",
    status_code=status.HTTP_201_CREATED,
    response_model=AdminCreatedUserOut,
    responses=_ERRORS,
)
async def create_user(
    body: AdminCreateUserIn, request: Request, db: DbDep, session: AdminSession
) -> AdminCreatedUserOut:
    """Create an approved account with a temporary password that must be changed at first sign-in."""
    password = temporary_password()
    user = await db.users.create_user(
        UserCreate(username=body.username, email=body.email, password=password), role=UserRole(body.role)
    )
    if not user.is_approved:
        user = await db.users.approve_user(str(user.id), str(session.user.id))
    user = await db.users.require_password_change(str(user.id))
    await _audit(db, session, request, "user.create", str(user.id), role=body.role, username=body.username)
    return AdminCreatedUserOut(user=user_out(user), temporary_password=password)


class ConfirmAdmin(AppError):
    def __init__(self, username: str) -> None:
        super().__init__(
            f"{username!r} is an administrator: repeat the request with confirm=true to act on them", 409
        )


async def _target(db: DbDep, user_id: str, confirm: bool, action: str) -> User:
    """The account to act on; acting on another administrator needs the explicit confirmation flag."""
    user = await db.users.get_user_by_id(user_id)
    if user is None:
        raise UserNotFound()
    if user.is_admin and action not in ("approve", "unblock") and not confirm:
        raise ConfirmAdmin(user.username)
    return user


async def _act(
    db: DbDep, session: AdminSession, request: Request, action: str, user_id: str, confirm: bool = False
) -> UserOut:
    if action != "approve" and user_id == str(session.user.id):
        raise Forbidden("you cannot block or delete your own account")
    target = await _target(db, user_id, confirm, action)
    if action == "approve":
        user = await db.users.approve_user(user_id, str(session.user.id))
        notify(db, "account_approved", user.email, username=user.username)
    elif action == "block":
        user = await db.users.block_user(user_id)
    else:
        user = await db.users.unblock_user(user_id)
    details = {"target_role": "admin", "confirmed": True} if target.is_admin and action == "block" else {}
    await _audit(db, session, request, f"user.{action}", user_id, **details)
    return user_out(user)


@router.put("/api/admin/users/{user_id}/approve", response_model=UserOut, responses=_ERRORS)
async def approve(user_id: str, request: Request, db: DbDep, session: AdminSession) -> UserOut:
    """Approve a pending account."""
    return await _act(db, session, request, "approve", user_id)


@router.put("/api/admin/users/{user_id}/block", response_model=UserOut, responses=_ERRORS)
async def block(
    user_id: str, request: Request, db: DbDep, session: AdminSession, confirm: Confirm = False
) -> UserOut:
    """Block an account: its tokens stop working at once. Blocking an administrator needs confirm=true;
    the last active administrator can never be blocked."""
    return await _act(db, session, request, "block", user_id, confirm)


@router.put("/api/admin/users/{user_id}/unblock", response_model=UserOut, responses=_ERRORS)
async def unblock(user_id: str, request: Request, db: DbDep, session: AdminSession) -> UserOut:
    """Unblock an account."""
    return await _act(db, session, request, "unblock", user_id)


@router.delete("/api/admin/users/{user_id}", response_model=MessageOut, responses=_ERRORS)
async def delete_user(
    user_id: str, request: Request, db: DbDep, session: AdminSession, confirm: Confirm = False
) -> MessageOut:
    """Delete an account with its analyses, progress and files. Deleting an administrator needs
    confirm=true; the last active administrator can never be deleted."""
    if user_id == str(session.user.id):
        raise Forbidden("you cannot block or delete your own account")
    await _target(db, user_id, confirm, "delete")
    files = await db.tasks.files_of_owner(user_id)
    await db.users.delete_user(user_id)
    remove_files(*(Path(f) for f in files))
    await _audit(db, session, request, "user.delete", user_id, files_removed=len(files))
    return MessageOut(detail="user deleted")


async def _bulk(db: DbDep, session: AdminSession, request: Request, action: str, body: BulkIn) -> BulkOut:
    done: list[str] = []
    failed: dict[str, str] = {}
    for user_id in dict.fromkeys(body.user_ids):
        try:
            await _act(db, session, request, action, user_id, body.confirm)
            done.append(user_id)
        except AppError as exc:
            failed[user_id] = exc.message
    return BulkOut(done=done, failed=failed)


@router.post("/api/admin/users/bulk/approve", response_model=BulkOut, responses=_ERRORS)
async def bulk_approve(body: BulkIn, request: Request, db: DbDep, session: AdminSession) -> BulkOut:
    """Approve several accounts; reports which failed and why."""
    return await _bulk(db, session, request, "approve", body)


@router.post("/api/admin/users/bulk/block", response_model=BulkOut, responses=_ERRORS)
async def bulk_block(body: BulkIn, request: Request, db: DbDep, session: AdminSession) -> BulkOut:
    """Block several accounts; reports which failed and why."""
    return await _bulk(db, session, request, "block", body)


@router.post(
    "/api/admin/users/{user_id}/reset-password", response_model=AdminCreatedUserOut, responses=_ERRORS
)
async def reset_password(
    user_id: str,
    request: Request,
    db: DbDep,
    session: AdminSession,
    body: AdminResetPasswordIn | None = None,
) -> AdminCreatedUserOut:
    """Set a temporary password (shown once, optionally emailed) that must be changed at the next
    sign-in; every session of the account is signed out. An administrator target needs confirm=true."""
    options = body or AdminResetPasswordIn()
    if user_id == str(session.user.id):
        raise Forbidden("change your own password on your profile page")
    target = await _target(db, user_id, options.confirm, "reset-password")
    password = temporary_password()
    await db.users.set_password(target.id, password, username=target.username, temporary=True)
    emailed = options.send_email and notify(
        db, "temporary_password", target.email, username=target.username, password=password
    )
    await _audit(db, session, request, "user.reset_password", user_id, emailed=bool(emailed))
    user = await db.users.get_user_by_id(user_id)
    return AdminCreatedUserOut(user=user_out(user), temporary_password=password)


@router.get("/api/admin/audit", response_model=list[AuditEntry], responses=_ERRORS)
async def audit_log(
    db: DbDep,
    session: AdminSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    user_id: Annotated[uuid.UUID | None, Query(description="only entries about this user id")] = None,
) -> list[AuditEntry]:
    """The audit log of administrator actions, newest first."""
    return await db.audit.entries(limit=limit, target_user_id=str(user_id) if user_id else None)
