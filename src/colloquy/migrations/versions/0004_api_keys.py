"""api keys: scoped secrets stored as keyed digests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 01:15:34.297579
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import colloquy.core.database

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("previous_digest", sa.String(length=64), nullable=True),
        sa.Column(
            "previous_valid_until", colloquy.core.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("allowed_models", sa.JSON(), nullable=True),
        sa.Column("monthly_token_budget", sa.Integer(), nullable=True),
        sa.Column("expires_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_ip", sa.String(length=45), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_api_key_owner_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_key_digest")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(
            "ix_api_key_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_api_key_previous_digest"), ["previous_digest"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_previous_digest"))
        batch_op.drop_index("ix_api_key_owner_id_created_at")

    op.drop_table("api_key")
