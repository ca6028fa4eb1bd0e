"""The project's flask-smorest ``Blueprint``: 400 on validation errors and one access decorator.

Every protected view states who may call it with :meth:`Blueprint.requires`,
which checks the access token (and permissions) and documents the bearer
security and the 401/403 answers in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from copy import deepcopy
from functools import wraps
from typing import Any, ClassVar

import flask
import flask_smorest
import marshmallow as ma
from flask_jwt_extended import get_current_user, verify_jwt_in_request
from flask_smorest.utils import load_info_from_docstring
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from dxconnect.errors import Forbidden, InvalidPayload

BEARER = [{"bearerAuth": []}]


def _unstorable_text(value: Any, path: str = "") -> str | None:
    """The path of the first string holding NUL or a lone surrogate (no database stores them)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "_schema"
        return (path or "_schema") if "\x00" in value else None
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _unstorable_text(key, path) or _unstorable_text(
            item, f"{path}.{key}" if path else str(key)
        )
        if found:
            return found
    return None


def _docstring_description(func: Callable[..., Any]) -> str:
    """The description part (after the summary line) of ``func``'s docstring."""
    return load_info_from_docstring(func.__doc__ or "").get("description", "")


class _Parser(FlaskParser):
    """webargs parser answering validation errors with 400, as the contract says.

    It also refuses text no database can store (NUL characters, lone
    surrogates) and adds the ``form_and_files`` location: the fields and files
    of one ``multipart/form-data`` body, loaded by one schema.
    """

    DEFAULT_VALIDATION_STATUS = 400
    __location_map__: ClassVar[dict[str, Any]] = dict(
        FlaskParser.__location_map__, form_and_files="load_form_and_files"
    )

    def load_form_and_files(self, req: flask.Request, schema: ma.Schema) -> Any:
        """The form fields and files of a multipart body, as one multidict."""
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)

    def pre_load(
        self,
        location_data: Mapping[str, Any],
        *,
        schema: ma.Schema,
        req: flask.Request,
        location: str,
    ) -> Mapping[str, Any]:
        """Refuse NUL characters and lone surrogates anywhere in the input."""
        path = _unstorable_text(location_data)
        if path is not None:
            raise ma.ValidationError(
                {path: ["Must not contain NUL characters or invalid Unicode."]}
            )
        return location_data


class Blueprint(flask_smorest.Blueprint):
    """A smorest Blueprint with the contract's validation status and access rules."""

    ARGUMENTS_PARSER = _Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict[str, str]] = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "form_and_files": "multipart/form-data",
    }

    def arguments(
        self, schema: Any, *, location: str = "json", required: bool = True, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """smorest's ``arguments``; a required JSON body that is absent is 400, not ``{}``.

        A schema class is instantiated once, here: given a class, webargs would
        build (and deep-copy the fields of) a new instance on every request.
        """
        if isinstance(schema, type):
            schema = schema()
        parse = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return parse

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            parsed = parse(func)

            @wraps(parsed)
            def wrapper(*args: Any, **kw: Any) -> Any:
                if not flask.request.get_data(cache=True):
                    raise InvalidPayload("A JSON request body is required")
                return parsed(*args, **kw)

            return wrapper

        return decorator

    def requires(
        self, *permissions: str, any_of: tuple[str, ...] = ()
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Allow only authenticated agents holding every permission in ``permissions``.

        With ``any_of``, the agent must also hold at least one of those. With
        no permission at all, any authenticated agent may call the view. The
        permissions are kept on the view as ``_required_permissions`` and
        ``_required_any_permissions`` so tests and tools can list who may call
        each route.
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                verify_jwt_in_request()
                agent = get_current_user()
                missing = [p for p in permissions if not agent.has_perm(p)]
                if any_of and not any(agent.has_perm(p) for p in any_of):
                    missing.append(" or ".join(any_of))
                if missing:
                    raise Forbidden(
                        "You do not have permission to perform this action",
                        {"permissions": missing},
                    )
                return func(*args, **kwargs)

            wrapper._required_permissions = permissions  # type: ignore[attr-defined]
            wrapper._required_any_permissions = any_of  # type: ignore[attr-defined]
            wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))  # type: ignore[attr-defined]
            manual = wrapper._apidoc.setdefault("manual_doc", {})  # type: ignore[attr-defined]
            manual["security"] = BEARER
            rules = [", ".join(f"`{p}`" for p in permissions)] if permissions else []
            if any_of:
                rules.append("one of " + ", ".join(f"`{p}`" for p in any_of))
            if rules:
                described = manual.get("description") or _docstring_description(func)
                manual["description"] = (described + "\n\nRequires: " + "; ".join(rules)).strip()
            wrapper = self.alt_response(401, response="UNAUTHORIZED")(wrapper)
            if permissions or any_of:
                wrapper = self.alt_response(403, response="FORBIDDEN")(wrapper)
            return wrapper

        return decorator
