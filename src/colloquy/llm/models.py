"""The model registry table: global models, and models a user owns (fine-tuned ones)."""

import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import Base, IdMixin, TimestampMixin, str_enum


class ModelKind(StrEnum):
    BASE = "base"
    FINE_TUNED = "fine_tuned"


class Model(IdMixin, TimestampMixin, Base):
    __tablename__ = "model"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    provider: Mapped[str] = mapped_column(String(64))
    provider_model: Mapped[str] = mapped_column(String(1000))
    context_window: Mapped[int] = mapped_column(Integer)
    max_output_tokens: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[ModelKind] = mapped_column(str_enum(ModelKind), default=ModelKind.BASE)
    # Null for global models every user can use.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    base_model_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("model.id", ondelete="SET NULL")
    )
    is_default: Mapped[bool] = mapped_column(default=False)
    # Per-user limits on this model, where an admin set them.
    requests_per_minute: Mapped[int | None]
    tokens_per_minute: Mapped[int | None]
