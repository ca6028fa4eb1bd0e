"""The project's flask-smorest ``Blueprint``: 400 on validation errors and one access decorator.

Every protected view states who may call it with :meth:`Blueprint.requires`,
which checks the access token (and permissions) and documents the bearer
security and the 401/403 answers in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any

import flask_smorest
from flask_jwt_extended import current_user, verify_jwt_in_request
from webargs.flaskparser import FlaskParser

from dxconnect.errors import Forbidden

BEARER = [{"bearerAuth": []}]


class _Parser(FlaskParser):
    """webargs parser answering validation errors with 400, as the contract says."""

    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    """A smorest Blueprint with the contract's validation status and access rules."""

    ARGUMENTS_PARSER = _Parser()

    def requires(self, *permissions: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Allow only authenticated agents holding every permission in ``permissions``.

        With no permission, any authenticated agent may call the view. The
        permissions are kept on the view as ``_required_permissions`` so tests
        and tools can list who may call each route.
        """

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                verify_jwt_in_request()
                missing = [p for p in permissions if not current_user.has_perm(p)]
                if missing:
                    raise Forbidden(
                        "You do not have permission to perform this action",
                        {"permissions": missing},
                    )
                return func(*args, **kwargs)

            wrapper._required_permissions = permissions  # type: ignore[attr-defined]
            wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))  # type: ignore[attr-defined]
            manual = wrapper._apidoc.setdefault("manual_doc", {})  # type: ignore[attr-defined]
            manual["security"] = BEARER
            if permissions:
                manual["description"] = (
                    manual.get("description", "")
                    + "\n\nRequires: "
                    + ", ".join(f"`{p}`" for p in permissions)
                ).strip()
            wrapper = self.alt_response(401, response="UNAUTHORIZED")(wrapper)
            if permissions:
                wrapper = self.alt_response(403, response="FORBIDDEN")(wrapper)
            return wrapper

        return decorator
