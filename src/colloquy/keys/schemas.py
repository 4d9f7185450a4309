"""Request and response bodies for API keys; the secret appears only in ApiKeyCreated."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from colloquy.core.schemas import PartialUpdate, Strict
from colloquy.keys.models import ApiKeyScope

KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ModelRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Scopes = Annotated[list[ApiKeyScope], Field(min_length=1, max_length=len(ApiKeyScope))]
AllowedModels = Annotated[list[ModelRef], Field(max_length=100)]
TokenBudget = Annotated[int, Field(ge=0, le=10**15)]
PerMinute = Annotated[int, Field(ge=1, le=10**9)]


class ApiKeyCreate(Strict):
    name: KeyName
    scopes: Scopes
    expires_at: AwareDatetime | None = None
    allowed_models: AllowedModels | None = None
    monthly_token_budget: TokenBudget | None = None
    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None

    @field_validator("scopes")
    @classmethod
    def _unique_scopes(cls, value: list[ApiKeyScope]) -> list[ApiKeyScope]:
        return sorted(set(value))

    @field_validator("expires_at")
    @classmethod
    def _in_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


class ApiKeyUpdate(PartialUpdate):
    nullable_fields: ClassVar[frozenset[str]] = frozenset(
        {"allowed_models", "monthly_token_budget", "requests_per_minute", "tokens_per_minute"}
    )

    name: KeyName | None = None
    allowed_models: AllowedModels | None = None
    monthly_token_budget: TokenBudget | None = None
    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None


class ApiKeyRotate(Strict):
    grace_seconds: int = Field(default=0, ge=0, le=86400)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[ApiKeyScope]
    allowed_models: list[str] | None
    monthly_token_budget: int | None
    requests_per_minute: int | None
    tokens_per_minute: int | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret. It is shown this once and cannot be recovered.")
