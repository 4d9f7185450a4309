"""The dataset table: a user's validated file of chat examples and what validation counted."""

import uuid

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import Base, IdMixin, TimestampMixin, owner_column


class Dataset(IdMixin, TimestampMixin, Base):
    __tablename__ = "dataset"
    __table_args__ = (Index("ix_dataset_owner_id_created_at", "owner_id", "created_at"),)

    owner_id: Mapped[uuid.UUID] = owner_column()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # The name the user uploaded it as, cleaned for display; the stored object is named by us.
    filename: Mapped[str] = mapped_column(String(255))
    # Datasets with the same content share one stored object.
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    n_examples: Mapped[int] = mapped_column(BigInteger)
    n_messages: Mapped[int] = mapped_column(BigInteger)
    # Estimates (an offline tokenizer), not what a given model's tokenizer will count.
    total_tokens: Mapped[int] = mapped_column(BigInteger)
    max_example_tokens: Mapped[int] = mapped_column(BigInteger)
