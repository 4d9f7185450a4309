"""conversations: models, chats, messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:29:48.257075
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import colloquy.core.database

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("provider_model", sa.String(length=1000), nullable=False),
        sa.Column("context_window", sa.Integer(), nullable=False),
        sa.Column("max_output_tokens", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("base", "fine_tuned", name="modelkind", native_enum=False),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("base_model_id", sa.Uuid(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_model_id"],
            ["model.id"],
            name=op.f("fk_model_base_model_id_model"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_model_owner_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model")),
        sa.UniqueConstraint("name", name=op.f("uq_model_name")),
    )
    with op.batch_alter_table("model", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "chat",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("active_message_id", sa.Uuid(), nullable=True),
        sa.Column(
            "last_activity_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "generation_lease_until",
            colloquy.core.database.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_chat_agent_id_agent"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model.id"], name=op.f("fk_chat_model_id_model"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_chat_owner_id_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_chat_project_id_project"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat")),
    )
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            "ix_chat_owner_id_archived_pinned_last_activity_at",
            ["owner_id", "archived", "pinned", "last_activity_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_chat_project_id"), ["project_id"], unique=False)

    op.create_table(
        "message",
        sa.Column("chat_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum("system", "user", "assistant", name="messagerole", native_enum=False),
            nullable=False,
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "complete",
                "streaming",
                "cancelled",
                "error",
                name="messagestatus",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("content_tokens", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cached_tokens", sa.Integer(), nullable=True),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=True),
        sa.Column("tokens_estimated", sa.Boolean(), nullable=False),
        sa.Column("finish_reason", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("context_included", sa.Integer(), nullable=True),
        sa.Column("context_dropped", sa.Integer(), nullable=True),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chat.id"], name=op.f("fk_message_chat_id_chat"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model.id"], name=op.f("fk_message_model_id_model"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["message.id"],
            name=op.f("fk_message_parent_id_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_chat_id_parent_id", ["chat_id", "parent_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_message_parent_id"), ["parent_id"], unique=False)

    # The chat and its messages refer to each other: the chat's foreign key comes last.
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_chat_active_message_id_message"),
            "message",
            ["active_message_id"],
            ["id"],
            ondelete="SET NULL",
        )

    # An agent's model was free text until the registry existed; it now refers to a model.
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_column("model_id")
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_agent_model_id_model"),
            "model",
            ["model_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_agent_model_id_model"), type_="foreignkey")
        batch_op.drop_column("model_id")
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_id", sa.VARCHAR(length=200), nullable=True))

    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_chat_active_message_id_message"), type_="foreignkey"
        )

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_parent_id"))
        batch_op.drop_index("ix_message_chat_id_parent_id")

    op.drop_table("message")
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_project_id"))
        batch_op.drop_index("ix_chat_owner_id_archived_pinned_last_activity_at")
        batch_op.drop_index(batch_op.f("ix_chat_agent_id"))

    op.drop_table("chat")
    with op.batch_alter_table("model", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_owner_id"))

    op.drop_table("model")
