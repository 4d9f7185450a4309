"""Request and response bodies for agents."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from colloquy.agents.models import AgentStatus
from colloquy.core.schemas import PartialUpdate, Strict

AgentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=2000)]
Instructions = Annotated[str, StringConstraints(max_length=32000)]
Temperature = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)]
MaxOutputTokens = Annotated[int, Field(ge=1, le=131072)]
# The id or the name of a model in the registry; the service resolves it and stores the id.
ModelRef = Annotated[str, StringConstraints(min_length=1, max_length=200)]
DEFAULT_TEMPERATURE = 0.7


class AgentCreate(Strict):
    name: AgentName
    description: Description = ""
    instructions: Instructions = Field(default="", description="The agent's system prompt.")
    model_id: ModelRef | None = Field(
        default=None, description="A model's id or name; null means the default model."
    )
    temperature: Temperature = DEFAULT_TEMPERATURE
    max_output_tokens: MaxOutputTokens | None = None
    status: AgentStatus = AgentStatus.ACTIVE
    project_id: uuid.UUID | None = None


class AgentUpdate(PartialUpdate):
    nullable_fields = frozenset({"model_id", "max_output_tokens", "project_id"})

    name: AgentName | None = None
    description: Description | None = None
    instructions: Instructions | None = None
    model_id: ModelRef | None = Field(
        default=None, description="A model's id or name; null means the default model."
    )
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
    model_id: uuid.UUID | None
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
