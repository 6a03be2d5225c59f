"""usage sessions

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jhm_usage_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=False),
        sa.Column("server_name", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("last_activity_at", sa.Float(), nullable=True),
        sa.Column("stopped_at", sa.Float(), nullable=True),
        sa.Column("stop_source", sa.String(length=32), nullable=False),
        sa.Column("start_source", sa.String(length=32), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("profile", sa.String(length=255), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("cpu_guarantee", sa.Float(), nullable=True),
        sa.Column("cpu_limit", sa.Float(), nullable=True),
        sa.Column("mem_guarantee", sa.Float(), nullable=True),
        sa.Column("mem_limit", sa.Float(), nullable=True),
        sa.Column("gpu_guarantee", sa.Float(), nullable=True),
        sa.Column("gpu_limit", sa.Float(), nullable=True),
        sa.Column("billing_group", sa.String(length=255), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_name", "server_name", "started_at", name="uq_jhm_usage_session"),
    )
    op.create_index("ix_jhm_usage_sessions_started_at", "jhm_usage_sessions", ["started_at"])
    op.create_index("ix_jhm_usage_sessions_open", "jhm_usage_sessions", ["stopped_at"])
    op.create_index("ix_jhm_usage_sessions_user", "jhm_usage_sessions", ["user_name", "started_at"])
    op.create_index(
        "ix_jhm_usage_sessions_duration",
        "jhm_usage_sessions",
        [sa.text("(stopped_at - started_at)")],
    )
    op.create_table(
        "jhm_usage_shares",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["jhm_usage_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id", "group_name"),
    )
    op.create_index("ix_jhm_usage_shares_group", "jhm_usage_shares", ["group_name"])
    op.create_table(
        "jhm_usage_active_days",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("day", "user_name"),
    )


def downgrade() -> None:
    op.drop_table("jhm_usage_active_days")
    op.drop_index("ix_jhm_usage_shares_group", table_name="jhm_usage_shares")
    op.drop_table("jhm_usage_shares")
    op.drop_index("ix_jhm_usage_sessions_duration", table_name="jhm_usage_sessions")
    op.drop_index("ix_jhm_usage_sessions_user", table_name="jhm_usage_sessions")
    op.drop_index("ix_jhm_usage_sessions_open", table_name="jhm_usage_sessions")
    op.drop_index("ix_jhm_usage_sessions_started_at", table_name="jhm_usage_sessions")
    op.drop_table("jhm_usage_sessions")
