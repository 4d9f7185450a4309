"""Request and response bodies for chats, messages and streamed events."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from colloquy.chats.models import MessageRole, MessageStatus
from colloquy.core.schemas import PartialUpdate, Strict

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Content = Annotated[str, StringConstraints(min_length=1, max_length=200_000)]
ModelRef = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Temperature = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)]
MaxOutput = Annotated[int, Field(ge=1, le=1_000_000)]


class ChatCreate(Strict):
    title: Title | None = None
    agent_id: uuid.UUID | None = None
    model_id: ModelRef | None = Field(default=None, description="A model's id or name.")
    project_id: uuid.UUID | None = None
    dataset_id: uuid.UUID | None = Field(default=None, description="One of your datasets.")


class ChatUpdate(PartialUpdate):
    nullable_fields = frozenset({"title", "agent_id", "model_id", "project_id", "dataset_id"})

    title: Title | None = None
    pinned: bool | None = None
    archived: bool | None = None
    project_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    model_id: ModelRef | None = None
    dataset_id: uuid.UUID | None = None
    active_message_id: uuid.UUID | None = Field(
        default=None, description="Switch branch: the message whose branch becomes active."
    )


class NamedRef(BaseModel):
    id: uuid.UUID
    name: str


class LastMessage(BaseModel):
    role: MessageRole
    preview: str
    created_at: datetime


class ChatRead(BaseModel):
    id: uuid.UUID
    title: str | None
    agent: NamedRef | None
    model: NamedRef | None
    project_id: uuid.UUID | None
    dataset_id: uuid.UUID | None
    active_message_id: uuid.UUID | None
    message_count: int
    last_message: LastMessage | None
    pinned: bool
    archived: bool
    generating: bool
    created_at: datetime
    updated_at: datetime


class MessageSend(Strict):
    content: Content
    stream: bool = False
    model_id: ModelRef | None = None
    temperature: Temperature | None = None
    max_output_tokens: MaxOutput | None = None


class MessageRegenerate(Strict):
    stream: bool = False
    model_id: ModelRef | None = None
    temperature: Temperature | None = None
    max_output_tokens: MaxOutput | None = None


class MessageEdit(Strict):
    content: Content
    stream: bool = False


class ContextStats(BaseModel):
    included: int
    dropped: int


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: uuid.UUID
    chat_id: uuid.UUID
    parent_id: uuid.UUID | None
    role: MessageRole
    content: str
    status: MessageStatus
    model_id: uuid.UUID | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    reasoning_tokens: int | None
    tokens_estimated: bool
    finish_reason: str | None
    error: str | None
    rating: int | None = None
    context: ContextStats | None = None
    sibling_ids: list[uuid.UUID] = Field(default_factory=list)
    created_at: datetime


class MessageRating(Strict):
    rating: Literal[1, -1] | None = Field(
        description="1 for a good reply, -1 for a bad one, null to clear; datasets built from "
        "chats can keep only the replies rated 1."
    )


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_cursor: uuid.UUID | None


class UsageRead(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    estimated: bool = False


class Exchange(BaseModel):
    """A turn answered without streaming: the saved user message and the saved reply."""

    user_message: MessageRead
    assistant_message: MessageRead


def message_payload(message: Any, *, sibling_ids: list[uuid.UUID] | None = None) -> MessageRead:
    read = MessageRead.model_validate(message)
    if message.context_included is not None:
        read.context = ContextStats(
            included=message.context_included, dropped=message.context_dropped or 0
        )
    if sibling_ids is not None:
        read.sibling_ids = sibling_ids
    return read
