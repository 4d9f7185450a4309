"""datasets: users' JSONL files of chat examples; a chat may name one

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 02:37:28.473275
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import colloquy.core.database

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dataset",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("n_examples", sa.BigInteger(), nullable=False),
        sa.Column("n_messages", sa.BigInteger(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("max_example_tokens", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_dataset_owner_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset")),
    )
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dataset_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dataset_storage_key"), ["storage_key"], unique=False)

    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dataset_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_chat_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_chat_dataset_id_dataset"),
            "dataset",
            ["dataset_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_chat_dataset_id_dataset"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_chat_dataset_id"))
        batch_op.drop_column("dataset_id")

    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_storage_key"))
        batch_op.drop_index("ix_dataset_owner_id_created_at")

    op.drop_table("dataset")
