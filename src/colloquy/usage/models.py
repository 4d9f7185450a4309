"""Usage tables: one event per model call, a daily rollup kept in step with the events, and the
reservations that hold part of a monthly budget while calls run."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import Base, IdMixin, str_enum, utcnow

# The rollup's key has no nulls (a null never conflicts in a unique index): "no key" is this.
NO_KEY = uuid.UUID(int=0)


class UsageSource(StrEnum):
    CHAT = "chat"
    API = "api"
    FINE_TUNING = "fine_tuning"


class UsageEvent(IdMixin, Base):
    """One model call. Key, model and chat are plain ids so the record outlives them."""

    __tablename__ = "usage_event"
    __table_args__ = (Index("ix_usage_event_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    model_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    chat_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    source: Mapped[UsageSource] = mapped_column(str_enum(UsageSource))
    status: Mapped[str] = mapped_column(String(16))
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    estimated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsageDaily(Base):
    """Totals per user, UTC day, model, key (NO_KEY without one) and source."""

    __tablename__ = "usage_daily"
    __table_args__ = (Index("ix_usage_daily_day", "day"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    api_key_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    source: Mapped[UsageSource] = mapped_column(str_enum(UsageSource), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cached_tokens: Mapped[int] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger)


class UsageReservation(IdMixin, Base):
    """Tokens set aside from a monthly budget while a call runs; settled (deleted) when it ends,
    and ignored after `expires_at` should its process die first."""

    __tablename__ = "usage_reservation"
    __table_args__ = (Index("ix_usage_reservation_user_id_expires_at", "user_id", "expires_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    tokens: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
