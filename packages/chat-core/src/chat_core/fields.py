"""Fields of request bodies: the right JSON types, and updates that may leave a field out but not null it.

Numbers and booleans are strict (`StrictInt`, `StrictFloat`, `StrictBool`). In a partial update, in Python an omitted field is `None` (and `exclude_unset` leaves it out of the change); on the wire
the field is optional and not nullable, so an explicit `null` is a validation error that names the
field, instead of reaching the entity and failing there.

    visibility: Annotated[Visibility | None, NOT_NULL] = omittable()
    name: Annotated[str | None, NOT_NULL] = omittable(min_length=1, max_length=200)
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict, StrictBool, StrictInt
from pydantic_core import PydanticCustomError

__all__ = ["NOT_NULL", "IsoDate", "StrictBool", "StrictFloat", "StrictInt", "omittable"]

StrictFloat = Annotated[float, Strict()]
"""A JSON number (integers too), never `true` or `"1.5"`: request fields say what they take.

With `StrictInt` (no `true`, `1.0` or `"1"`) and `StrictBool` (no `0`, `1` or `"yes"`), a wrong type
in a request body is a validation error naming the field, not a value quietly converted."""


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_text(value: object) -> object:
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_type", "Input should be a date as YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
"""A calendar date written `YYYY-MM-DD` (JSON Schema's `format: date`), never a number or a timestamp."""


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
