"""Prompt templates: each user's own, and the common library admins curate."""

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import Base, IdMixin, TimestampMixin, owner_column


class TemplateColumns:
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str] = mapped_column(Text)
    variables: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Prompt(IdMixin, TimestampMixin, TemplateColumns, Base):
    __tablename__ = "prompt"
    __table_args__ = (Index("ix_prompt_owner_id_created_at", "owner_id", "created_at"),)

    owner_id: Mapped[uuid.UUID] = owner_column()


class CommonPrompt(IdMixin, TimestampMixin, TemplateColumns, Base):
    __tablename__ = "common_prompt"

    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
