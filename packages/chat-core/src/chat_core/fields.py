"""Fields of partial updates: a field may be left out, but a non-nullable one may never be sent as null.

In Python an omitted field is `None` (and `exclude_unset` leaves it out of the change); on the wire
the field is optional and not nullable, so an explicit `null` is a validation error that names the
field, instead of reaching the entity and failing there.

    visibility: Annotated[Visibility | None, NOT_NULL] = omittable()
    name: Annotated[str | None, NOT_NULL] = omittable(min_length=1, max_length=200)
"""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

__all__ = ["NOT_NULL", "omittable"]


def _reject_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError("null_not_allowed", "May be left out, but may not be null")
    return value


NOT_NULL = BeforeValidator(_reject_null)
"""Validator of an omittable field: an explicit `null` is refused."""


def _not_nullable(schema: dict[str, Any]) -> None:
    """JSON Schema of an omittable field: the value's own schema, without the `null` branch or default."""
    schema.pop("default", None)
    branches = schema.pop("anyOf", None)
    if branches is not None:
        kept = [branch for branch in branches if branch != {"type": "null"}]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept


def omittable(**constraints: Any) -> Any:
    """`Field(default=None, **constraints)` documented as optional and not nullable; use with `NOT_NULL`."""
    return Field(default=None, json_schema_extra=_not_nullable, **constraints)
