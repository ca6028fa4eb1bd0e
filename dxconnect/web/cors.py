"""flask-cors, consulted only for requests that carry an ``Origin`` header.

flask-cors runs its response hook on every request and, without ``Origin``
(and with ``CORS_ALWAYS_SEND`` off, as configured here), adds nothing: no
``Access-Control-*`` header and no ``Vary``. Skipping that hook for such
requests changes no response and saves its resource matching on every call
that is not a browser's cross-origin request.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_cors import CORS


class OriginOnlyCORS(CORS):
    """``flask_cors.CORS`` whose response hook is skipped for requests without ``Origin``."""

    def init_app(self, app: Flask, **kwargs: Any) -> None:  # type: ignore[override]
        """Register flask-cors, then guard the response hook it just added."""
        super().init_app(app, **kwargs)
        hooks = app.after_request_funcs[None]
        add_cors_headers = hooks[-1]

        def cors_for_origin_requests(response: Response) -> Response:
            if "HTTP_ORIGIN" not in request.environ:
                return response
            return add_cors_headers(response)

        hooks[-1] = cors_for_origin_requests
