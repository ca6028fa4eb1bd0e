"""Page-number pagination shared by every list endpoint of the API.

The contract: list endpoints take ``page`` (from 1) and ``page_size`` (default
20; larger than 100 is clamped to 100) and answer
``{"count", "next", "previous", "results"}`` where ``next``/``previous`` are
full URLs (or null); a page past the end is 404 ``NOT_FOUND``.

Usage in a view (any SQLAlchemy ``select`` and any marshmallow schema)::

    class AgentListArgs(PageArgsSchema):       # filters ride along with the page args
        search = ma.fields.String()

    @blp.route("/")
    class Agents(MethodView):
        @blp.requires("accounts.manage_auth")
        @blp.arguments(AgentListArgs, location="query")
        @blp.response(200, page_schema(AgentSchema))
        @blp.alt_response(404, response="NOT_FOUND")
        def get(self, args):
            return paginate(sa.select(Agent).order_by(Agent.id), args)

The statement must have a stable ``ORDER BY``. A statement selecting one
entity or column yields those objects as ``results``; one selecting several
columns yields row mappings. The page schema dumps them with the item schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
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


class PageArgsSchema(ma.Schema):
    """Query arguments of a paginated list; subclass it to add filters."""

    page = ma.fields.Integer(
        load_default=1,
        validate=validate.Range(min=1),
        metadata={"description": "Page number, from 1."},
    )
    page_size = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1),
        metadata={
            "description": f"Items per page; values above {MAX_PAGE_SIZE} are clamped to "
            f"{MAX_PAGE_SIZE}."
        },
    )

    @ma.post_load
    def clamp_page_size(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        """Clamp ``page_size`` to :data:`MAX_PAGE_SIZE` instead of refusing it."""
        if "page_size" in data:
            data["page_size"] = min(data["page_size"], MAX_PAGE_SIZE)
        return data


@cache
def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The ``{"count", "next", "previous", "results"}`` schema around ``item_schema``.

    One class per item schema (cached), named ``<Item>PageSchema`` so the
    OpenAPI document gets one component per list.
    """
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    fields = {
        "count": ma.fields.Integer(required=True, metadata={"example": 1}),
        "next": ma.fields.String(
            required=True,
            allow_none=True,
            metadata={"description": "URL of the next page, or null.", "example": None},
        ),
        "previous": ma.fields.String(
            required=True,
            allow_none=True,
            metadata={"description": "URL of the previous page, or null.", "example": None},
        ),
        "results": ma.fields.List(ma.fields.Nested(item_schema), required=True),
    }
    schema = ma.Schema.from_dict(fields, name=name)
    schema.__doc__ = f"One page of {item_schema.__name__.removesuffix('Schema')} items."
    return schema


def paginate(statement: sa.Select[Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """Run one page of ``statement`` with ``args["page"]`` and ``args["page_size"]``.

    Raises :class:`dxconnect.errors.NotFound` for a page past the end (page 1
    of an empty list is an empty page, not an error).
    """
    page, page_size = int(args["page"]), int(args["page_size"])
    counted = sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    count = db.session.scalar(counted) or 0
    offset = (page - 1) * page_size
    if page > 1 and offset >= count:
        last = last_page(count, page_size)
        raise NotFound(f"Page {page} does not exist", {"page": [f"The last page is {last}."]})
    result = db.session.execute(statement.limit(page_size).offset(offset))
    single = len(statement.column_descriptions) == 1
    rows = result.scalars().all() if single else result.mappings().all()
    return {
        "count": count,
        "next": page_url(page + 1) if offset + page_size < count else None,
        "previous": page_url(page - 1) if page > 1 else None,
        "results": rows,
    }


def last_page(count: int, page_size: int) -> int:
    """The number of the last page of ``count`` items (1 for an empty list)."""
    return max(1, -(-count // page_size))


def page_url(page: int) -> str:
    """The current request's full URL with ``page`` replaced (other query args kept)."""
    query = [(key, value) for key, value in request.args.items(multi=True) if key != "page"]
    query.append(("page", str(page)))
    return f"{request.base_url}?{urlencode(query)}"
