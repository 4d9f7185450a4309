"""Request and response bodies for the model registry."""

import uuid
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from colloquy.core.schemas import PartialUpdate, Strict
from colloquy.llm.models import ModelKind

ModelName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^\S+$")
]
ProviderModel = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
ContextWindow = Annotated[int, Field(ge=16, le=10_000_000)]
MaxOutput = Annotated[int, Field(ge=1, le=1_000_000)]
Description = Annotated[str, StringConstraints(max_length=2000)]
PerMinute = Annotated[
    int, Field(ge=1, le=10**9, description="A per-user limit on this model, per minute.")
]


class ModelCreate(Strict):
    name: ModelName = Field(description="Unique; what OpenAI clients use as the model id.")
    provider: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    provider_model: ProviderModel = Field(
        description="The provider's model name; for `local`, a checkpoint directory."
    )
    context_window: ContextWindow = 8192
    max_output_tokens: MaxOutput = 1024
    description: Description = ""
    is_default: bool = False
    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None


class ModelUpdate(PartialUpdate):
    nullable_fields: ClassVar[frozenset[str]] = frozenset(
        {"requests_per_minute", "tokens_per_minute"}
    )

    name: ModelName | None = None
    provider_model: ProviderModel | None = None
    context_window: ContextWindow | None = None
    max_output_tokens: MaxOutput | None = None
    description: Description | None = None
    is_default: bool | None = None
    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None


class ModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: uuid.UUID
    name: str
    provider: str
    provider_model: str
    context_window: int
    max_output_tokens: int
    description: str
    kind: ModelKind
    owner_id: uuid.UUID | None
    base_model_id: uuid.UUID | None
    is_default: bool
    requests_per_minute: int | None
    tokens_per_minute: int | None
    created_at: datetime
    updated_at: datetime
