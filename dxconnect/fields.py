"""Marshmallow fields and validators whose documented JSON type is exactly what they accept.

marshmallow's ``Integer`` takes ``true`` and ``Boolean`` takes ``"yes"``; the
API documents JSON ``integer`` and ``boolean``, so these stricter fields refuse
anything else — what the OpenAPI schema promises is what the server enforces.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC
from typing import Any

import marshmallow as ma
from marshmallow import validate

#: The largest id a path or body may name (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1


class StrictInteger(ma.fields.Integer):
    """A JSON integer: booleans, floats and numeric strings are refused."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class StrictBoolean(ma.fields.Boolean):
    """A JSON boolean: only ``true`` and ``false``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class FullMatch(validate.Regexp):
    """A ``Regexp`` validator that must match the whole string (a trailing newline fails too).

    Documented as the JSON Schema ``pattern`` (write it with ``^...$``).
    """

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


class WholeNested(ma.fields.Nested):
    """A nested object that is always loaded whole, even inside a partial (PATCH) load."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, partial: Any = None, **kwargs: Any
    ) -> Any:
        return super()._deserialize(value, attr, data, partial=None, **kwargs)


def text(max_length: int = 255, default: str = "", **metadata: Any) -> ma.fields.String:
    """A free-text string field (may be empty) with a length limit and a default."""
    return ma.fields.String(
        load_default=default, validate=validate.Length(max=max_length), metadata=metadata
    )


def nested(
    schema: type[ma.Schema], default: dict[str, Any], *, whole: bool = False, **metadata: Any
) -> ma.fields.Nested:
    """A nested object defaulting to a copy of ``default`` (documented as the default)."""
    field_class = WholeNested if whole else ma.fields.Nested
    return field_class(
        schema,
        load_default=lambda: deepcopy(default),
        metadata={"default": default, **metadata},
    )


class UtcDateTime(ma.fields.DateTime):
    """A timezone-aware time, always written in UTC (``2026-01-01T10:00:00+00:00``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return super()._serialize(value.astimezone(UTC), attr, obj, **kwargs)
