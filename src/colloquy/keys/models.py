"""The api_key table: a key's digest (and, while a rotation's grace lasts, the previous one)."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import Base, IdMixin, TimestampMixin, owner_column


class ApiKeyScope(StrEnum):
    INFERENCE = "inference"
    READ = "read"
    WRITE = "write"


class ApiKey(IdMixin, TimestampMixin, Base):
    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_owner_id_created_at", "owner_id", "created_at"),)

    owner_id: Mapped[uuid.UUID] = owner_column()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    previous_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    previous_valid_until: Mapped[datetime | None]
    scopes: Mapped[list[str]] = mapped_column(JSON)
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON)
    monthly_token_budget: Mapped[int | None] = mapped_column(BigInteger)
    # Per-minute limits for this key; null follows the settings.
    requests_per_minute: Mapped[int | None]
    tokens_per_minute: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
