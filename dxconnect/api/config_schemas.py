"""Schemas of the configuration endpoints (the sections themselves live in ``config_sections``)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate
from werkzeug.datastructures import FileStorage

from dxconnect.api.pagination import PageArgsSchema
from dxconnect.configuration.audit import ACTIONS
from dxconnect.configuration.sections import SECTIONS, ImageUrl
from dxconnect.configuration.service import IMAGE_FIELDS
from dxconnect.fields import UtcDateTime


def partial_schema(schema: type[ma.Schema]) -> type[ma.Schema]:
    """A subclass of ``schema`` that always loads partially (a PATCH body).

    Fields left out are left out of the result (no defaults filled in), so the
    service can merge the body into what is stored.
    """

    class Partial(schema):  # type: ignore[valid-type, misc]
        def __init__(self, **kwargs: Any):
            super().__init__(**{**kwargs, "partial": True})

    Partial.__name__ = Partial.__qualname__ = schema.__name__.removesuffix("Schema") + "PatchSchema"
    Partial.__doc__ = (
        f"Any subset of the fields of {schema.__name__.removesuffix('Schema')}; "
        "fields left out keep their stored value."
    )
    return Partial


class ImageFile(Upload):
    """An uploaded file part (a plain form field of that name is refused)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ma.ValidationError("Must be a file.")
        return value


def kind_field() -> ma.fields.String:
    """``logo`` or ``favicon``."""
    return ma.fields.String(
        required=True,
        validate=validate.OneOf(tuple(IMAGE_FIELDS)),
        metadata={"description": "Which image: the login logo or the favicon.", "example": "logo"},
    )


class UploadSchema(ma.Schema):
    """A logo or favicon upload (``multipart/form-data``)."""

    kind = kind_field()
    file = ImageFile(
        required=True,
        metadata={"description": "A PNG, JPEG, WebP, GIF or ICO image of at most 2 MiB."},
    )


class KindArgsSchema(ma.Schema):
    """Which uploaded image to remove."""

    kind = kind_field()


class UploadResultSchema(ma.Schema):
    """Where the stored image is served."""

    url = ImageUrl()


class AuditEntrySchema(ma.Schema):
    """One change of one section: who, when, which fields (never their values)."""

    id = ma.fields.Integer(metadata={"example": 12})
    created_at = UtcDateTime()
    agent_id = ma.fields.Integer(allow_none=True, metadata={"example": 1})
    agent_username = ma.fields.String(metadata={"example": "admin"})
    section = ma.fields.String(
        validate=validate.OneOf(tuple(SECTIONS)), metadata={"example": "company_data"}
    )
    action = ma.fields.String(validate=validate.OneOf(ACTIONS), metadata={"example": "update"})
    fields = ma.fields.List(
        ma.fields.String(), metadata={"example": ["cnpj", "endereco.cep", "smtp_senha"]}
    )


class AuditArgsSchema(PageArgsSchema):
    """Filters of the audit log."""

    section = ma.fields.String(
        validate=validate.OneOf(tuple(SECTIONS)),
        metadata={"description": "Only changes of this section."},
    )
