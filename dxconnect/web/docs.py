"""OpenAPI schema, Swagger UI and ReDoc, served entirely by the app (no CDN).

Swagger UI's files come from the ``flask-swagger-ui`` distribution and ReDoc's
from ``openapi-ui-bundles``; both are served from ``/api/_assets/``.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
import openapi_ui_bundles.redoc
from flask import Blueprint, Flask, Response, send_from_directory

SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).parent / "dist"
REDOC_DIR = Path(openapi_ui_bundles.redoc.static_path)
ASSETS_PREFIX = "/api/_assets"

assets = Blueprint("docs_assets", __name__, url_prefix=ASSETS_PREFIX)


def _static(directory: Path, filename: str) -> Response:
    response = send_from_directory(directory, filename, max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@assets.get("/swagger-ui/<path:filename>")
def swagger_ui_asset(filename: str) -> Response:
    """A Swagger UI file."""
    return _static(SWAGGER_UI_DIR, filename)


@assets.get("/redoc/<path:filename>")
def redoc_asset(filename: str) -> Response:
    """A ReDoc file."""
    return _static(REDOC_DIR, filename)


def openapi_config() -> dict[str, object]:
    """flask-smorest settings: schema at ``/api/schema/``, UIs at ``/api/docs/`` and ``/api/redoc/``."""
    return {
        "API_TITLE": "DX Connect API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "schema/",
        "OPENAPI_SWAGGER_UI_PATH": "docs/",
        "OPENAPI_SWAGGER_UI_URL": f"{ASSETS_PREFIX}/swagger-ui/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"deepLinking": True, "persistAuthorization": True},
        "OPENAPI_REDOC_PATH": "redoc/",
        "OPENAPI_REDOC_URL": f"{ASSETS_PREFIX}/redoc/redoc.standalone.js",
        "API_SPEC_OPTIONS": {
            "info": {
                "description": (
                    "REST API of DX Connect. Every non-2xx answer is the error envelope "
                    "`{\"error\": {code, message, details, request_id, timestamp}}`."
                )
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
        },
    }


def init_app(app: Flask) -> None:
    """Serve the UI assets (the schema and pages are served by flask-smorest's ``Api``)."""
    app.register_blueprint(assets)
