"""The project table."""

import uuid

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import Base, IdMixin, TimestampMixin, owner_column


class Project(IdMixin, TimestampMixin, Base):
    __tablename__ = "project"
    __table_args__ = (Index("ix_project_owner_id_created_at", "owner_id", "created_at"),)

    owner_id: Mapped[uuid.UUID] = owner_column()
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
