"""The agent table."""

import uuid
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import Base, IdMixin, TimestampMixin, owner_column, str_enum


class AgentStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Agent(IdMixin, TimestampMixin, Base):
    __tablename__ = "agent"
    __table_args__ = (Index("ix_agent_owner_id_created_at", "owner_id", "created_at"),)

    owner_id: Mapped[uuid.UUID] = owner_column()
    # Deleting the project keeps the agent and detaches it.
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("project.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("model.id", ondelete="SET NULL"))
    temperature: Mapped[float] = mapped_column(Float, default=0.7)
    max_output_tokens: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[AgentStatus] = mapped_column(str_enum(AgentStatus), default=AgentStatus.ACTIVE)
