"""The database schema, in one place (SQLAlchemy Core). Alembic revisions must match it exactly:
`alembic check` / tests/app/db/test_migrations.py compare the two.

To add a table: append it at the END of this file and add an Alembic revision on top of the last one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from app.db.types import GUID, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

USER_ROLES = ("admin", "user")
TASK_STATUSES = ("pending", "processing", "completed", "failed", "expired")


def utcnow() -> datetime:
    """Now, timezone-aware (the Python-side default of the timestamp columns)."""
    return datetime.now(UTC)


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", GUID(), primary_key=True, default=uuid.uuid4),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("hashed_password", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False, server_default="user"),
    sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("is_approved", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("approved_by", GUID(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("approved_at", UTCDateTime(), nullable=True),
    sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    sa.Column("updated_at", UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
    sa.Column("last_login", UTCDateTime(), nullable=True),
    # Raised on sign-out, password change, block and reset: access tokens carry the version they were
    # issued under and are refused once it changes.
    sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"),
    # Two-factor sign-in (TOTP): the base32 secret once enabled, and the last accepted time step
    # (a code of that step or an earlier one is refused: no replay).
    sa.Column("totp_secret", sa.String(64), nullable=True),
    sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'user')", name="role"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("task_id", sa.String(36), primary_key=True),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("file_path", sa.Text(), nullable=True),
    sa.Column("file_size", sa.BigInteger(), nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("uploaded_at", UTCDateTime(), nullable=False, default=utcnow),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("total_packets", sa.BigInteger(), nullable=True),
    sa.Column("health_score", sa.Float(), nullable=True),
    sa.Column("report_json_path", sa.Text(), nullable=True),
    sa.Column("report_html_path", sa.Text(), nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    sa.Column("warning_message", sa.Text(), nullable=True),
    sa.Column("owner_id", GUID(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    # Work queue: a worker claims a pending task and holds a lease it renews with heartbeats.
    sa.Column("kind", sa.String(32), nullable=False, server_default="analysis.run"),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="3"),
    sa.Column("worker_id", sa.String(128), nullable=True),
    sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
    sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
    # The attempt whose reports (reports/<task-id>/<attempt>.*) completed the task; NULL for tasks completed
    # before per-attempt files (their report paths name reports/<task-id>.*).
    sa.Column("completed_attempt", sa.Integer(), nullable=True),
    sa.CheckConstraint(
        "status IN ('pending', 'processing', 'completed', 'failed', 'expired')", name="status"
    ),
    sa.Index("ix_tasks_owner_uploaded", "owner_id", "uploaded_at"),
    sa.Index("ix_tasks_status_lease", "status", "lease_expires_at"),
    sa.Index("ix_tasks_expires_at", "expires_at"),
    sa.Index("ix_tasks_uploaded_at", "uploaded_at"),
)

progress_snapshots = sa.Table(
    "progress_snapshots",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(36), sa.ForeignKey("tasks.task_id", ondelete="CASCADE"), nullable=False),
    sa.Column("phase", sa.String(32), nullable=False),
    sa.Column("progress_percent", sa.Float(), nullable=False, server_default="0"),
    sa.Column("packets_processed", sa.BigInteger(), nullable=True),
    sa.Column("total_packets", sa.BigInteger(), nullable=True),
    sa.Column("current_analyzer", sa.String(64), nullable=True),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    sa.Column("attempt", sa.Integer(), nullable=True),  # the attempt that wrote it
    sa.Index("ix_progress_snapshots_task_created", "task_id", "created_at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("actor_id", GUID(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    # No foreign key: the entry must outlive the account it is about (e.g. "user.delete").
    sa.Column("target_user_id", GUID(), nullable=True),
    sa.Column("details", sa.Text(), nullable=True),  # JSON text
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    sa.Index("ix_audit_log_created_at", "created_at"),
    sa.Index("ix_audit_log_target_user_id", "target_user_id"),
)

password_history = sa.Table(
    "password_history",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("user_id", GUID(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("hashed_password", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    sa.Index("ix_password_history_user_created", "user_id", "created_at"),
)

# Self-service password reset: only the SHA-256 of the mailed token is stored.
password_reset_tokens = sa.Table(
    "password_reset_tokens",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("user_id", GUID(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.Index("ix_password_reset_tokens_user_id", "user_id"),
)

# Single-use 2FA backup codes, stored as SHA-256 hashes (the codes carry 60 random bits).
backup_codes = sa.Table(
    "backup_codes",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("user_id", GUID(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    sa.Index("ix_backup_codes_user_id", "user_id"),
)
