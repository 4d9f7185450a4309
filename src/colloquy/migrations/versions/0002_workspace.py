"""workspace: projects, agents, prompts, common prompts, tasks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 23:50:42.089524
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import colloquy.core.database

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "common_prompt",
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
            name=op.f("fk_common_prompt_created_by_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_common_prompt")),
    )
    op.create_table(
        "project",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_project_owner_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
    )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.create_index(
            "ix_project_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )

    op.create_table(
        "prompt",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_prompt_owner_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt")),
    )
    with op.batch_alter_table("prompt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_prompt_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )

    op.create_table(
        "agent",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=False),
        sa.Column("max_output_tokens", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "archived", name="agentstatus", native_enum=False),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_agent_owner_id_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_agent_project_id_project"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent")),
    )
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agent_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agent_project_id"), ["project_id"], unique=False)

    op.create_table(
        "task",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "in_progress", "completed", name="taskstatus", native_enum=False),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum("low", "medium", "high", name="taskpriority", native_enum=False),
            nullable=False,
        ),
        sa.Column("due_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_task_owner_id_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_task_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_deleted_at", ["deleted_at"], unique=False)
        batch_op.create_index(
            "ix_task_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_task_owner_id_status_created_at", ["owner_id", "status", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_task_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_project_id"))
        batch_op.drop_index("ix_task_owner_id_status_created_at")
        batch_op.drop_index("ix_task_owner_id_created_at")
        batch_op.drop_index("ix_task_deleted_at")

    op.drop_table("task")
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_project_id"))
        batch_op.drop_index("ix_agent_owner_id_created_at")

    op.drop_table("agent")
    with op.batch_alter_table("prompt", schema=None) as batch_op:
        batch_op.drop_index("ix_prompt_owner_id_created_at")

    op.drop_table("prompt")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index("ix_project_owner_id_created_at")

    op.drop_table("project")
    op.drop_table("common_prompt")
