"""initial_schema_with_user_approval

users (with the approval workflow), tasks (with the work-queue lease columns) and progress_snapshots.

Revision ID: eba0e1bcc7ec
Revises: 
Create Date: 2026-11-24 10:35:38.664064
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.types

revision: str = 'eba0e1bcc7ec'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', app.db.types.GUID(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('hashed_password', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), server_default='user', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('is_approved', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('approved_by', app.db.types.GUID(), nullable=True),
    sa.Column('approved_at', app.db.types.UTCDateTime(), nullable=True),
    sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', app.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', app.db.types.UTCDateTime(), nullable=False),
    sa.Column('last_login', app.db.types.UTCDateTime(), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'user')", name=op.f('ck_users_role')),
    sa.ForeignKeyConstraint(['approved_by'], ['users.id'], name=op.f('fk_users_approved_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('tasks',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('file_path', sa.Text(), nullable=True),
    sa.Column('file_size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('uploaded_at', app.db.types.UTCDateTime(), nullable=False),
    sa.Column('started_at', app.db.types.UTCDateTime(), nullable=True),
    sa.Column('completed_at', app.db.types.UTCDateTime(), nullable=True),
    sa.Column('expires_at', app.db.types.UTCDateTime(), nullable=True),
    sa.Column('total_packets', sa.BigInteger(), nullable=True),
    sa.Column('health_score', sa.Float(), nullable=True),
    sa.Column('report_json_path', sa.Text(), nullable=True),
    sa.Column('report_html_path', sa.Text(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('warning_message', sa.Text(), nullable=True),
    sa.Column('owner_id', app.db.types.GUID(), nullable=True),
    sa.Column('kind', sa.String(length=32), server_default='analysis.run', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_attempts', sa.Integer(), server_default='3', nullable=False),
    sa.Column('worker_id', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', app.db.types.UTCDateTime(), nullable=True),
    sa.Column('heartbeat_at', app.db.types.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'processing', 'completed', 'failed', 'expired')", name=op.f('ck_tasks_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_tasks_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_tasks'))
    )
    op.create_index('ix_tasks_expires_at', 'tasks', ['expires_at'], unique=False)
    op.create_index('ix_tasks_owner_uploaded', 'tasks', ['owner_id', 'uploaded_at'], unique=False)
    op.create_index('ix_tasks_status_lease', 'tasks', ['status', 'lease_expires_at'], unique=False)

    op.create_table('progress_snapshots',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('phase', sa.String(length=32), nullable=False),
    sa.Column('progress_percent', sa.Float(), server_default='0', nullable=False),
    sa.Column('packets_processed', sa.BigInteger(), nullable=True),
    sa.Column('total_packets', sa.BigInteger(), nullable=True),
    sa.Column('current_analyzer', sa.String(length=64), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('created_at', app.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.task_id'], name=op.f('fk_progress_snapshots_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_progress_snapshots'))
    )
    op.create_index('ix_progress_snapshots_task_created', 'progress_snapshots', ['task_id', 'created_at'], unique=False)



def downgrade() -> None:
    op.drop_index('ix_progress_snapshots_task_created', table_name='progress_snapshots')

    op.drop_table('progress_snapshots')
    op.drop_index('ix_tasks_status_lease', table_name='tasks')
    op.drop_index('ix_tasks_owner_uploaded', table_name='tasks')
    op.drop_index('ix_tasks_expires_at', table_name='tasks')

    op.drop_table('tasks')
    op.drop_table('users')
