"""Request and response bodies for prompts and common prompts."""

import math
import uuid
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from colloquy.core.schemas import PartialUpdate, Strict
from colloquy.prompts.template import NAME_PATTERN

MAX_VARIABLES = 100
MAX_VALUE_LENGTH = 100_000


PromptName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=2000)]
TemplateText = Annotated[str, StringConstraints(min_length=1, max_length=32_000)]
VariableName = Annotated[
    str,
    StringConstraints(max_length=64, pattern=f"^{NAME_PATTERN}$"),
    Field(description="A placeholder name: letters, digits and _, not starting with a digit."),
]


class Variable(Strict):
    """A value the template takes: `{{ name }}` in the template."""

    name: VariableName
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    required: bool = True
    default: Annotated[str, StringConstraints(max_length=32_000)] | None = Field(
        default=None, description="The value of an optional variable the caller leaves out."
    )

    @model_validator(mode="after")
    def _default_only_when_optional(self) -> "Variable":
        if self.required and self.default is not None:
            raise ValueError(f"required variable {self.name!r} cannot have a default")
        return self


def _unique_names(variables: list[Variable]) -> list[Variable]:
    seen: set[str] = set()
    for variable in variables:
        if variable.name in seen:
            raise ValueError(f"variable {variable.name!r} is declared more than once")
        seen.add(variable.name)
    return variables


Variables = Annotated[
    list[Variable], Field(max_length=MAX_VARIABLES), AfterValidator(_unique_names)
]


class PromptWrite(Strict):
    """A whole prompt: what POST creates (common prompts) and PUT replaces."""

    name: PromptName
    description: Description = ""
    template: TemplateText
    variables: Variables = Field(default_factory=list)


class PromptCreate(PartialUpdate):
    """A new prompt; with `from_common_id`, a copy of that common prompt in which the fields
    given here replace the copied ones. Without it, `name` and `template` are required."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"from_common_id"})

    from_common_id: uuid.UUID | None = None
    name: PromptName | None = None
    description: Description | None = None
    template: TemplateText | None = None
    variables: Variables | None = None


class PromptUpdate(PartialUpdate):
    name: PromptName | None = None
    description: Description | None = None
    template: TemplateText | None = None
    variables: Variables | None = None


def _render_value(value: object) -> str:
    """A variable's value as text: strings as they are, numbers and booleans as in JSON."""
    if isinstance(value, str):
        if len(value) > MAX_VALUE_LENGTH:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": MAX_VALUE_LENGTH},
            )
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    raise PydanticCustomError("render_value", "must be a string, a number or a boolean")


RenderValue = Annotated[
    str, PlainValidator(_render_value, json_schema_input_type=str | int | float | bool)
]


class RenderRequest(Strict):
    variables: Annotated[
        dict[Annotated[str, StringConstraints(max_length=64)], RenderValue],
        Field(max_length=MAX_VARIABLES),
    ] = Field(default_factory=dict)


class RenderedPrompt(BaseModel):
    text: str


class PromptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    template: str
    variables: list[Variable]
    created_at: datetime
    updated_at: datetime


class CommonPromptRead(PromptRead):
    created_by: uuid.UUID | None
