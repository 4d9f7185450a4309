"""usage: events, daily rollup, reservations, quotas and per-minute limits

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 02:31:57.762724
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import colloquy.core.database

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("chat", "api", "fine_tuning", name="usagesource", native_enum=False),
            nullable=False,
        ),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_usage_daily_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "day", "model_id", "api_key_id", "source", name=op.f("pk_usage_daily")
        ),
    )
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.create_index("ix_usage_daily_day", ["day"], unique=False)

    op.create_table(
        "usage_event",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("chat_id", sa.Uuid(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("chat", "api", "fine_tuning", name="usagesource", native_enum=False),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_usage_event_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_event")),
    )
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_event_user_id_created_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "usage_reservation",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_usage_reservation_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_reservation")),
    )
    with op.batch_alter_table("usage_reservation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_reservation_user_id_expires_at", ["user_id", "expires_at"], unique=False
        )

    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requests_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("tokens_per_minute", sa.Integer(), nullable=True))
        batch_op.alter_column(
            "monthly_token_budget",
            existing_type=sa.INTEGER(),
            type_=sa.BigInteger(),
            existing_nullable=True,
        )

    with op.batch_alter_table("model", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requests_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("tokens_per_minute", sa.Integer(), nullable=True))

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("monthly_token_quota", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("monthly_token_quota")

    with op.batch_alter_table("model", schema=None) as batch_op:
        batch_op.drop_column("tokens_per_minute")
        batch_op.drop_column("requests_per_minute")

    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.alter_column(
            "monthly_token_budget",
            existing_type=sa.BigInteger(),
            type_=sa.INTEGER(),
            existing_nullable=True,
        )
        batch_op.drop_column("tokens_per_minute")
        batch_op.drop_column("requests_per_minute")

    with op.batch_alter_table("usage_reservation", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_reservation_user_id_expires_at")

    op.drop_table("usage_reservation")
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_event_user_id_created_at")

    op.drop_table("usage_event")
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_daily_day")

    op.drop_table("usage_daily")
