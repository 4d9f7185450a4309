"""The `sort` query parameter: a key from an allow-list, `-` in front for descending."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import QueryableAttribute

from colloquy.core.errors import ValidationFailed

# A mapped attribute (`Model.column`) or any column expression.
Sortable = ColumnElement[Any] | QueryableAttribute[Any]


def order_by(
    sort: str | None,
    allowed: Mapping[str, Sortable],
    *,
    default: str,
    tie_breaker: Sortable,
) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for `sort`; an unknown key is a 422 naming the `sort` parameter."""
    value = sort or default
    descending = value.startswith("-")
    key = value.removeprefix("-")
    if key not in allowed:
        raise ValidationFailed(
            f"Unknown sort key {key!r}.",
            errors=[
                {
                    "loc": ["query", "sort"],
                    "msg": f"must be one of {', '.join(sorted(allowed))}, optionally prefixed by -",
                    "type": "enum",
                }
            ],
        )
    column = allowed[key]
    if descending:
        return [column.desc(), tie_breaker.desc()]
    return [column.asc(), tie_breaker.asc()]
