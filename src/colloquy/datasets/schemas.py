"""Request and response bodies for datasets; uploads are multipart, described in the router."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from colloquy.core.schemas import PartialUpdate, Strict

DatasetName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=10_000)]


class DatasetFields(Strict):
    """The form fields that come with an uploaded file."""

    name: DatasetName
    description: Description = ""


class DatasetUpdate(PartialUpdate):
    name: DatasetName | None = None
    description: Description | None = None


class DatasetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    filename: str
    bytes: int
    sha256: str
    n_examples: int
    n_messages: int
    total_tokens: int = Field(description="Estimated tokens of all examples' messages.")
    max_example_tokens: int = Field(description="Estimated tokens of the longest example.")
    created_at: datetime
    updated_at: datetime


class ExampleMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str
    weight: Literal[0, 1] | None = None


class Example(BaseModel):
    line: int
    messages: list[ExampleMessage]


class DatasetPreview(BaseModel):
    items: list[Example]
    limit: int
    n_examples: int
