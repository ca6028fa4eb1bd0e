"""Page-number pagination of list endpoints (contract section 1).

Query arguments ``page`` (from 1) and ``page_size`` (default 20; larger than
100 is clamped to 100); the answer is ``{"count", "next", "previous",
"results"}`` with ``next``/``previous`` as absolute URLs (or null). A page past
the end is ``404 NOT_FOUND``; page 1 of an empty list is an empty page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
import sqlalchemy as sa
from flask import request
from marshmallow import validate

from dxconnect.errors import NotFound
from dxconnect.extensions import db

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class PaginationArgsSchema(ma.Schema):
    """``page`` and ``page_size`` query arguments."""

    page = ma.fields.Integer(
        load_default=1, validate=validate.Range(min=1), metadata={"example": 1}
    )
    page_size = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1),
        metadata={"description": f"Larger values are clamped to {MAX_PAGE_SIZE}", "example": 20},
    )

    @ma.post_load
    def clamp_page_size(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Clamp ``page_size`` to :data:`MAX_PAGE_SIZE`."""
        data["page_size"] = min(data["page_size"], MAX_PAGE_SIZE)
        return data


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The schema of one page of ``item_schema`` objects, named ``name`` in OpenAPI."""
    link = {"format": "uri", "example": None}
    return ma.Schema.from_dict(
        {
            "count": ma.fields.Integer(required=True, metadata={"example": 1}),
            "next": ma.fields.String(required=True, allow_none=True, metadata=link),
            "previous": ma.fields.String(required=True, allow_none=True, metadata=link),
            "results": ma.fields.List(ma.fields.Nested(item_schema), required=True),
        },
        name=name,
    )


def _page_url(page: int, page_size: int) -> str:
    args = [
        (key, value)
        for key, value in request.args.items(multi=True)
        if key not in ("page", "page_size")
    ]
    args += [("page", str(page)), ("page_size", str(page_size))]
    return f"{request.base_url}?{urlencode(args)}"


def paginate(query: sa.Select[Any], page: int, page_size: int) -> dict[str, Any]:
    """Run ``query`` for one page; the answer of a list endpoint (404 past the end)."""
    count = (
        db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
        or 0
    )
    offset = (page - 1) * page_size
    if page > 1 and offset >= count:
        raise NotFound(f"Page {page} is past the end of the list")
    results = db.session.scalars(query.limit(page_size).offset(offset)).all()
    return {
        "count": count,
        "next": _page_url(page + 1, page_size) if offset + page_size < count else None,
        "previous": _page_url(page - 1, page_size) if page > 1 else None,
        "results": results,
    }
