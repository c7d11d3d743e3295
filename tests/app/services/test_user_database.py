"""The user service on both databases: approval workflow, password and identity rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied, WeakPassword
from app.models.user import UserCreate, UserRole

PASSWORD = "correct-staple-42x"


def new(name: str, password: str = PASSWORD, email: str | None = None) -> UserCreate:
    return UserCreate(username=name, email=email or f"{name}@example.org", password=password)


async def test_admins_are_approved_users_pending(user_service: Any) -> None:
    before = datetime.now(UTC)
    admin = await user_service.create_user(new("root"), role=UserRole.ADMIN)
    user = await user_service.create_user(new("alice"))
    assert (admin.role, admin.is_approved, admin.is_active) == (UserRole.ADMIN, True, True)
    assert (user.role, user.is_approved, user.approved_by) == (UserRole.USER, False, None)
    assert user.approved_at is None
    assert before - timedelta(seconds=1) <= user.created_at <= datetime.now(UTC) + timedelta(seconds=1)


async def test_approval_records_who_and_when(user_service: Any) -> None:
    admin = await user_service.create_user(new("root"), role=UserRole.ADMIN)
    user = await user_service.create_user(new("alice"))
    before = datetime.now(UTC)
    approved = await user_service.approve_user(str(user.id), str(admin.id))
    stored = await user_service.get_user_by_id(user.id)
    assert stored == approved
    assert stored.is_approved and stored.approved_by == admin.id
    assert before - timedelta(seconds=1) <= stored.approved_at <= datetime.now(UTC) + timedelta(seconds=1)
    with pytest.raises(Conflict, match="'alice' is already approved"):  # approving twice is an error
        await user_service.approve_user(user.id, admin.id)


async def test_approval_refusals(user_service: Any) -> None:
    admin = await user_service.create_user(new("root"), role=UserRole.ADMIN)
    alice = await user_service.create_user(new("alice"))
    bob = await user_service.create_user(new("bob"))
    with pytest.raises(PermissionDenied, match="administrator"):
        await user_service.approve_user(bob.id, alice.id)  # a non-admin approver
    with pytest.raises(PermissionDenied):
        await user_service.approve_user(bob.id, uuid.uuid4())  # an unknown approver
    with pytest.raises(NotFound, match="not found"):
        await user_service.approve_user(uuid.uuid4(), admin.id)  # an unknown user
    await user_service.create_user(new("root2"), role=UserRole.ADMIN)  # the last admin cannot be blocked
    await user_service.block_user(admin.id)
    with pytest.raises(PermissionDenied):  # a blocked admin
        await user_service.approve_user(bob.id, admin.id)
    assert not (await user_service.get_user_by_id(bob.id)).is_approved


async def test_password_rules(user_service: Any) -> None:
    long_password = (  # 100 bytes in UTF-8 (Ω takes two)
        "Ωmega Ωrbit: tangerine walrus quartz lantern fjord 1987 cobalt hinge pylon, mauve sextant 12345678"
    )
    assert len(long_password.encode()) == 100
    user = await user_service.create_user(new("longpw", long_password))
    assert (await user_service.authenticate("longpw", long_password)).id == user.id
    # bcrypt would only see the first 72 bytes: here a change in the last byte matters.
    assert await user_service.authenticate("longpw", long_password[:-1] + "6") is None
    with pytest.raises(WeakPassword, match="at least 12 characters"):
        await user_service.create_user(new("shorty", "Short-pw-11"))
    with pytest.raises(WeakPassword, match="too common"):
        await user_service.create_user(new("commoner", "Password1234"))
    with pytest.raises(WeakPassword, match="username"):
        await user_service.create_user(new("samesame1234", "SameSame1234"))
    assert await user_service.get_user_by_username("shorty") is None


async def test_duplicates_and_validation(user_service: Any) -> None:
    await user_service.create_user(new("alice"))
    with pytest.raises(Conflict, match="username 'Alice' is already taken"):
        await user_service.create_user(new("Alice", email="other@example.org"))
    with pytest.raises(Conflict, match="email address"):
        await user_service.create_user(new("alice2", email="ALICE@example.org"))
    with pytest.raises(InvalidInput, match="username"):
        await user_service.create_user(new("a b"))
    with pytest.raises(InvalidInput, match="invalid email"):
        await user_service.create_user(new("carol", email="not-an-address"))
    users, total = await user_service.list_users()
    assert total == 1 and [u.username for u in users] == ["alice"]


async def test_authenticate(user_service: Any) -> None:
    user = await user_service.create_user(new("alice"))
    assert await user_service.authenticate("alice", "wrong-password-123") is None
    assert await user_service.authenticate("nobody", PASSWORD) is None
    await user_service.settle()  # failures are counted after the answer (equal timing)
    assert (await user_service.get_user_by_id(user.id)).failed_logins == 1
    signed_in = await user_service.authenticate("ALICE", PASSWORD)
    assert signed_in.id == user.id and signed_in.last_login is not None and signed_in.failed_logins == 0
    assert not signed_in.is_approved  # authenticate does not judge the status; callers do


async def test_block_unblock_delete_and_lookups(user_service: Any) -> None:
    user = await user_service.create_user(new("alice"))
    assert not (await user_service.block_user(user.id)).is_active
    assert (await user_service.unblock_user(str(user.id))).is_active
    assert await user_service.get_user_by_id("not-a-uuid") is None
    await user_service.delete_user(user.id)
    assert await user_service.get_user_by_id(user.id) is None
    for action in (user_service.block_user, user_service.unblock_user, user_service.delete_user):
        with pytest.raises(NotFound):
            await action(user.id)


async def test_list_users_filters_and_pages(user_service: Any) -> None:
    admin = await user_service.create_user(new("root"), role=UserRole.ADMIN)
    names = [f"user{i}" for i in range(5)]
    created = [await user_service.create_user(new(n)) for n in names]
    await user_service.approve_user(created[0].id, admin.id)
    await user_service.block_user(created[1].id)
    pending, n_pending = await user_service.list_users(status="pending")
    approved, n_approved = await user_service.list_users(status="approved")
    blocked, n_blocked = await user_service.list_users(status="blocked")
    admins, n_admins = await user_service.list_users(role="admin")
    page, total = await user_service.list_users(limit=2, offset=2)
    assert (n_pending, {u.username for u in pending}) == (3, {"user2", "user3", "user4"})
    assert (n_approved, {u.username for u in approved}) == (2, {"root", "user0"})
    assert (n_blocked, [u.username for u in blocked]) == (1, ["user1"])
    assert (n_admins, [u.username for u in admins]) == (1, ["root"])
    assert total == 6 and len(page) == 2


async def test_change_password_and_temporary_passwords(user_service: Any) -> None:
    user = await user_service.create_user(new("alice"))
    assert (await user_service.require_password_change(user.id)).must_change_password
    with pytest.raises(InvalidInput, match="current password is incorrect"):
        await user_service.change_password(user.id, "not-the-password", "another-good-pass-9")
    with pytest.raises(WeakPassword):
        await user_service.change_password(user.id, PASSWORD, "short")
    with pytest.raises(InvalidInput, match="differ"):
        await user_service.change_password(user.id, PASSWORD, PASSWORD)
    await user_service.change_password(user.id, PASSWORD, "another-good-pass-9")
    assert not (await user_service.get_user_by_id(user.id)).must_change_password
    assert await user_service.authenticate("alice", PASSWORD) is None
    assert await user_service.authenticate("alice", "another-good-pass-9") is not None
