"""Request and response bodies for agents."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from colloquy.agents.models import AgentStatus
from colloquy.core.schemas import PartialUpdate, Strict

AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=2000)]
Instructions = Annotated[str, StringConstraints(max_length=32000)]
Temperature = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)]
MaxOutputTokens = Annotated[int, Field(ge=1, le=131072)]
DEFAULT_TEMPERATURE = 0.7


def _check_model_id(value: str) -> str:
    if value != value.strip():
        raise ValueError("may not start or end with whitespace")
    if not value.isprintable():
        raise ValueError("may only contain printable characters")
    return value


# A plain identifier until models are registered; then it will name one of them.
ModelId = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_check_model_id)
]


class AgentCreate(Strict):
    name: AgentName
    description: Description = ""
    instructions: Instructions = Field(default="", description="The agent's system prompt.")
    model_id: ModelId | None = Field(default=None, description="Null means the default model.")
    temperature: Temperature = DEFAULT_TEMPERATURE
    max_output_tokens: MaxOutputTokens | None = None
    status: AgentStatus = AgentStatus.ACTIVE
    project_id: uuid.UUID | None = None


class AgentUpdate(PartialUpdate):
    nullable_fields = frozenset({"model_id", "max_output_tokens", "project_id"})

    name: AgentName | None = None
    description: Description | None = None
    instructions: Instructions | None = None
    model_id: ModelId | None = None
    temperature: Temperature | None = None
    max_output_tokens: MaxOutputTokens | None = None
    status: AgentStatus | None = None
    project_id: uuid.UUID | None = None


class AgentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID | None
    name: str
    description: str
    instructions: str
    model_id: str | None
    temperature: float
    max_output_tokens: int | None
    status: AgentStatus
    created_at: datetime
    updated_at: datetime


class AgentStats(BaseModel):
    chat_count: int = 0
    message_count: int = 0
    last_used_at: datetime | None = None


class AgentDetail(AgentRead):
    stats: AgentStats
