"""usage figures kept ahead of the reports

Each stopped session gets its seconds and requested resource-seconds; active users get
tables per ISO week and per month beside the one per day. Both are filled here from what
the store already holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FIGURES = ("seconds", "cpu_seconds", "mem_seconds", "gpu_seconds")


def upgrade() -> None:
    with op.batch_alter_table("jhm_usage_sessions") as batch:
        for name in FIGURES:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
    op.execute(
        "UPDATE jhm_usage_sessions SET seconds = stopped_at - started_at, "
        "cpu_seconds = (stopped_at - started_at) * coalesce(cpu_guarantee, cpu_limit, 0.0), "
        "mem_seconds = (stopped_at - started_at) * coalesce(mem_guarantee, mem_limit, 0.0), "
        "gpu_seconds = (stopped_at - started_at) * coalesce(gpu_limit, gpu_guarantee, 0.0) "
        "WHERE stopped_at IS NOT NULL"
    )
    op.create_table(
        "jhm_usage_active_weeks",
        sa.Column("week", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("week", "user_name"),
    )
    op.create_table(
        "jhm_usage_active_months",
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "user_name"),
    )
    # 1970-01-01 was a Thursday: (day + 3) % 7 is the days since Monday
    op.execute(
        "INSERT INTO jhm_usage_active_weeks (week, user_name) "
        "SELECT DISTINCT day - ((day + 3) % 7), user_name FROM jhm_usage_active_days"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "INSERT INTO jhm_usage_active_months (month, user_name, days) "
            "SELECT date_trunc('month', DATE '1970-01-01' + day)::date - DATE '1970-01-01', "
            "user_name, count(*) FROM jhm_usage_active_days GROUP BY 1, 2"
        )
    else:
        op.execute(
            "INSERT INTO jhm_usage_active_months (month, user_name, days) "
            "SELECT CAST(julianday(date(day * 86400, 'unixepoch', 'start of month')) "
            "- 2440587.5 AS INTEGER), user_name, count(*) FROM jhm_usage_active_days "
            "GROUP BY 1, 2"
        )


def downgrade() -> None:
    op.drop_table("jhm_usage_active_months")
    op.drop_table("jhm_usage_active_weeks")
    with op.batch_alter_table("jhm_usage_sessions") as batch:
        for name in reversed(FIGURES):
            batch.drop_column(name)
