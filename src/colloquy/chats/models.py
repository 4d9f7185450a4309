"""Chats and messages. Messages are rows forming a tree; the chat points at its active leaf."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from colloquy.core.database import (
    Base,
    IdMixin,
    TimestampMixin,
    owner_column,
    str_enum,
    utcnow,
)


class MessageRole(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    STREAMING = "streaming"
    CANCELLED = "cancelled"
    ERROR = "error"


class Chat(IdMixin, TimestampMixin, Base):
    __tablename__ = "chat"
    __table_args__ = (
        Index(
            "ix_chat_owner_id_archived_pinned_last_activity_at",
            "owner_id",
            "archived",
            "pinned",
            "last_activity_at",
        ),
    )

    owner_id: Mapped[uuid.UUID] = owner_column()
    title: Mapped[str | None] = mapped_column(String(200))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agent.id", ondelete="SET NULL"), index=True
    )
    model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("model.id", ondelete="SET NULL"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("project.id", ondelete="SET NULL"), index=True
    )
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("dataset.id", ondelete="SET NULL"), index=True
    )
    pinned: Mapped[bool] = mapped_column(default=False)
    archived: Mapped[bool] = mapped_column(default=False)
    active_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL", use_alter=True)
    )
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # One reply at a time: held while a generation runs, renewed by it, free once it lapses.
    generation_lease_until: Mapped[datetime | None]


class Message(IdMixin, Base):
    __tablename__ = "message"
    __table_args__ = (Index("ix_message_chat_id_parent_id", "chat_id", "parent_id"),)

    chat_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    # Distance from the root: pages along a branch are ranges of depth.
    depth: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[MessageRole] = mapped_column(str_enum(MessageRole))
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[MessageStatus] = mapped_column(
        str_enum(MessageStatus), default=MessageStatus.COMPLETE
    )
    model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("model.id", ondelete="SET NULL"))
    # Counted once when the message is saved, so assembling a context never re-tokenizes.
    content_tokens: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    tokens_estimated: Mapped[bool] = mapped_column(default=False)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    # The user's verdict on a reply: 1 good, -1 bad, null unrated.
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    context_included: Mapped[int | None] = mapped_column(Integer)
    context_dropped: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
