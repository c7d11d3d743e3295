"""The two verification scripts of the PostgreSQL migration guide, run verbatim on both databases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.app.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[3]

# Verbatim from the guide, section "Verification" -> "1. Check Database Connection".
CHECK_CONNECTION = """\
import asyncio
from app.services.postgres_database import DatabasePool

async def test_connection():
    db = DatabasePool()
    await db.connect()
    print(f"Connected to {db.db_type} database")

    # Test query
    result = await db.fetch_one("SELECT 1 as test")
    print(f"Test query result: {result}")

    await db.close()

asyncio.run(test_connection())
"""

# Verbatim from the guide, section "Verification" -> "3. Test User Approval Workflow".
TEST_APPROVAL = """\
import asyncio
from app.services.user_database import get_user_db_service
from app.models.user import UserCreate, UserRole

async def test_approval():
    db = get_user_db_service()
    await db.init_db()

    # Create admin (auto-approved)
    admin_data = UserCreate(
        username="testadmin",
        email="admin@test.com",
        password="SecurePassword123"
    )
    admin = await db.create_user(admin_data, role=UserRole.ADMIN)
    print(f"Admin approved: {admin.is_approved}")

    # Create regular user (requires approval)
    user_data = UserCreate(
        username="testuser",
        email="user@test.com",
        password="SecurePassword123"
    )
    user = await db.create_user(user_data)
    print(f"User approved: {user.is_approved}")

    # Approve user
    await db.approve_user(user.id, admin.id)

    # Verify approval
    approved_user = await db.get_user_by_id(user.id)
    print(f"User now approved: {approved_user.is_approved}")
    print(f"Approved by: {approved_user.approved_by}")

asyncio.run(test_approval())
"""


def run_script(source: str, url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    script = folder / "snippet.py"
    script.write_text(source)
    env = subprocess_env(DATABASE_URL=url, DATA_DIR=str(folder / "data"), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_database_connection(fresh_database_url: str, backend: str, tmp_path: Path) -> None:
    done = run_script(CHECK_CONNECTION, fresh_database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"Connected to {backend} database", "Test query result: {'test': 1}"]


def test_user_approval_workflow_on_empty_database(fresh_database_url: str, tmp_path: Path) -> None:
    done = run_script(TEST_APPROVAL, fresh_database_url, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ["Admin approved: True", "User approved: False", "User now approved: True"]
    assert len(lines) == 4 and lines[3].startswith("Approved by: ")
    admin_id = lines[3].removeprefix("Approved by: ")
    # The approver printed is the admin's id: check it against the database itself.
    check = run_script(
        "import asyncio\nfrom app.services.postgres_database import DatabasePool\n"
        "async def main():\n    async with DatabasePool() as db:\n"
        "        row = await db.fetch_one(\"SELECT id FROM users WHERE username = 'testadmin'\")\n"
        "        print(row['id'])\nasyncio.run(main())\n",
        fresh_database_url,
        tmp_path,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == admin_id
