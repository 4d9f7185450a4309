"""Bases for request bodies: unknown fields refused; PATCH bodies that refuse nulls where needed."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class Strict(BaseModel):
    """A request body: unknown fields are an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it here, naming the field, for every backend.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("may not contain the NUL character")
        return value


class PartialUpdate(Strict):
    """A PATCH body: fields left out stay as they are; null only where the field may be empty."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable_fields:
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with their new values."""
        return {name: getattr(self, name) for name in self.model_fields_set}
