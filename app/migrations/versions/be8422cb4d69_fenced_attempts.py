"""fenced_attempts

tasks.completed_attempt: the attempt whose report files the task row names (reports/<id>/<attempt>.*);
progress_snapshots.attempt: which attempt wrote a snapshot; an index on tasks.uploaded_at for the
administrator's history page.

Revision ID: be8422cb4d69
Revises: 3f1c2a7d9b10
Create Date: 2026-12-04 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "be8422cb4d69"
down_revision: str | Sequence[str] | None = "3f1c2a7d9b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("completed_attempt", sa.Integer(), nullable=True))
    with op.batch_alter_table("progress_snapshots") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=True))
    op.create_index("ix_tasks_uploaded_at", "tasks", ["uploaded_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tasks_uploaded_at", table_name="tasks")
    with op.batch_alter_table("progress_snapshots") as batch:
        batch.drop_column("attempt")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("completed_attempt")
