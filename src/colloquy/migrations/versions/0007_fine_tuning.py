"""fine tuning: jobs, their events and checkpoints

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 02:59:39.213456
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import colloquy.core.database

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fine_tune_job",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("base_model_id", sa.Uuid(), nullable=True),
        sa.Column("training_dataset_id", sa.Uuid(), nullable=True),
        sa.Column("validation_dataset_id", sa.Uuid(), nullable=True),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("suffix", sa.String(length=40), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "validating_files",
                "queued",
                "running",
                "succeeded",
                "failed",
                "cancelled",
                name="jobstatus",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=True),
        sa.Column("epoch", sa.Float(), nullable=True),
        sa.Column("train_loss", sa.Float(), nullable=True),
        sa.Column("valid_loss", sa.Float(), nullable=True),
        sa.Column("trained_tokens", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("fine_tuned_model_id", sa.Uuid(), nullable=True),
        sa.Column(
            "cancel_requested_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("started_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["base_model_id"],
            ["model.id"],
            name=op.f("fk_fine_tune_job_base_model_id_model"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["fine_tuned_model_id"],
            ["model.id"],
            name=op.f("fk_fine_tune_job_fine_tuned_model_id_model"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user.id"],
            name=op.f("fk_fine_tune_job_owner_id_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["training_dataset_id"],
            ["dataset.id"],
            name=op.f("fk_fine_tune_job_training_dataset_id_dataset"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["validation_dataset_id"],
            ["dataset.id"],
            name=op.f("fk_fine_tune_job_validation_dataset_id_dataset"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fine_tune_job")),
    )
    with op.batch_alter_table("fine_tune_job", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fine_tune_job_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_fine_tune_job_status", ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_fine_tune_job_training_dataset_id"),
            ["training_dataset_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_fine_tune_job_validation_dataset_id"),
            ["validation_dataset_id"],
            unique=False,
        )

    op.create_table(
        "fine_tune_checkpoint",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Float(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["fine_tune_job.id"],
            name=op.f("fk_fine_tune_checkpoint_job_id_fine_tune_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fine_tune_checkpoint")),
    )
    with op.batch_alter_table("fine_tune_checkpoint", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fine_tune_checkpoint_job_id_step", ["job_id", "step"], unique=False
        )

    op.create_table(
        "fine_tune_event",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "level",
            sa.Enum("info", "warning", "error", name="eventlevel", native_enum=False),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", colloquy.core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["fine_tune_job.id"],
            name=op.f("fk_fine_tune_event_job_id_fine_tune_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fine_tune_event")),
    )
    with op.batch_alter_table("fine_tune_event", schema=None) as batch_op:
        batch_op.create_index("ix_fine_tune_event_job_id_seq", ["job_id", "seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("fine_tune_event", schema=None) as batch_op:
        batch_op.drop_index("ix_fine_tune_event_job_id_seq")

    op.drop_table("fine_tune_event")
    with op.batch_alter_table("fine_tune_checkpoint", schema=None) as batch_op:
        batch_op.drop_index("ix_fine_tune_checkpoint_job_id_step")

    op.drop_table("fine_tune_checkpoint")
    with op.batch_alter_table("fine_tune_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fine_tune_job_validation_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_fine_tune_job_training_dataset_id"))
        batch_op.drop_index("ix_fine_tune_job_status")
        batch_op.drop_index("ix_fine_tune_job_owner_id_created_at")

    op.drop_table("fine_tune_job")
