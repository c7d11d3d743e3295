"""Account rules on both databases: password strength and history, token revocation, the last admin."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.errors import InvalidInput, WeakPassword
from app.models.user import UserCreate, UserRole
from app.security import check_password_strength
from app.services.user_database import PASSWORD_HISTORY, LastAdmin

PASSWORD = "correct-staple-42x"


def new(name: str, password: str = PASSWORD) -> UserCreate:
    return UserCreate(username=name, email=f"{name}@example.org", password=password)


def test_weak_passwords_are_refused_with_zxcvbn_feedback() -> None:
    with pytest.raises(WeakPassword, match="Repeats like"):
        check_password_strength("abcabcabcabcabc")
    with pytest.raises(WeakPassword, match="too easy to guess"):
        check_password_strength("qwertyuiop1234")
    with pytest.raises(WeakPassword, match="too easy to guess"):  # built from the account's own name
        check_password_strength("marguerite2024!", username="marguerite")
    with pytest.raises(WeakPassword, match="at least 12"):  # the base policy comes first
        check_password_strength("Tr0ub4dor&3")
    check_password_strength("tangerine walrus quartz lantern")


async def test_a_weak_new_password_is_refused(user_service: Any) -> None:
    user = await user_service.create_user(new("alice"))
    with pytest.raises(WeakPassword, match="too easy to guess"):
        await user_service.change_password(user.id, PASSWORD, "alice1234567")
    assert await user_service.authenticate("alice", PASSWORD) is not None


async def test_the_last_passwords_cannot_be_reused(user_service: Any) -> None:
    user = await user_service.create_user(new("alice"))
    passwords = [PASSWORD] + [f"tangerine walrus {i} quartz lantern" for i in range(PASSWORD_HISTORY)]
    for old, fresh in zip(passwords, passwords[1:], strict=False):
        await user_service.change_password(user.id, old, fresh)
    current = passwords[-1]
    # The current password and the four before it are refused...
    for recent in passwords[-PASSWORD_HISTORY:-1]:
        with pytest.raises(InvalidInput, match="used recently"):
            await user_service.change_password(user.id, current, recent)
    # ...the sixth most recent (the first one) is allowed again.
    await user_service.change_password(user.id, current, passwords[0])
    assert await user_service.authenticate("alice", passwords[0]) is not None


async def test_token_version_rises_on_revocation_change_and_block(user_service: Any) -> None:
    await user_service.create_user(new("root"), role=UserRole.ADMIN)
    user = await user_service.create_user(new("bob"))
    versions = [user.token_version]
    await user_service.revoke_tokens(user.id)
    versions.append((await user_service.get_user_by_id(user.id)).token_version)
    await user_service.change_password(user.id, PASSWORD, "tangerine walrus quartz lantern")
    versions.append((await user_service.get_user_by_id(user.id)).token_version)
    await user_service.block_user(user.id)
    versions.append((await user_service.get_user_by_id(user.id)).token_version)
    assert versions == [0, 1, 2, 3]


async def test_the_last_active_admin_cannot_be_blocked_or_deleted(user_service: Any) -> None:
    root = await user_service.create_user(new("root"), role=UserRole.ADMIN)
    with pytest.raises(LastAdmin):
        await user_service.block_user(root.id)
    with pytest.raises(LastAdmin):
        await user_service.delete_user(root.id)
    assert (await user_service.get_user_by_id(root.id)).is_active
    # Two administrators blocking each other at the same moment: exactly one of them wins.
    other = await user_service.create_user(new("other"), role=UserRole.ADMIN)
    results = await asyncio.gather(
        user_service.block_user(root.id), user_service.block_user(other.id), return_exceptions=True
    )
    assert sum(isinstance(r, LastAdmin) for r in results) == 1, results
    admins, _ = await user_service.list_users(status="approved", role="admin")
    assert len(admins) == 1


async def test_a_name_with_a_nul_byte_is_just_unknown(user_service: Any) -> None:
    await user_service.create_user(new("alice"))
    assert await user_service.authenticate("ali\x00ce", PASSWORD) is None  # PostgreSQL refuses NUL in text
