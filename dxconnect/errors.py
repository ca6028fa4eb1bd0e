"""The error envelope: every non-2xx answer of the service has this one shape.

``{"error": {"code", "message", "details", "request_id", "timestamp"}}``

Services raise :class:`ServiceError` subclasses (they know nothing of HTTP
responses); werkzeug's HTTP exceptions, flask-smorest/webargs validation errors,
JWT errors, rate limiting and unexpected exceptions are all turned into the
envelope here, in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import Flask, Response, jsonify
from flask_smorest import Api
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from dxconnect.web.request_id import current_request_id

log = logging.getLogger("dxconnect.errors")

#: HTTP status -> the contract's error code.
ERROR_CODES: dict[int, str] = {
    400: "INVALID_PAYLOAD",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_PAYLOAD",
    429: "RATE_LIMITED",
    502: "UPSTREAM_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

DEFAULT_MESSAGES: dict[int, str] = {
    400: "The request payload is invalid",
    401: "Authentication is required",
    403: "You do not have permission to perform this action",
    404: "The requested resource was not found",
    405: "The method is not allowed for this resource",
    409: "The request conflicts with the current state",
    413: "The request body is too large",
    415: "The request body must be JSON (application/json)",
    429: "Too many requests; retry later",
    500: "An unexpected error occurred",
    502: "An upstream service failed",
    503: "The service is unavailable",
}


class ServiceError(Exception):
    """A rule of the service was broken; carries the status and code of its answer."""

    status = 400

    def __init__(
        self,
        message: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message or DEFAULT_MESSAGES.get(self.status, "Error"))
        self.message = message or DEFAULT_MESSAGES.get(self.status, "Error")
        self.details = dict(details or {})
        self.headers = dict(headers or {})


class InvalidPayload(ServiceError):
    """400: the input failed validation; ``details`` maps dotted field paths to messages."""

    status = 400


class Unauthorized(ServiceError):
    """401: missing or bad credentials."""

    status = 401


class Forbidden(ServiceError):
    """403: authenticated but lacking a permission."""

    status = 403


class NotFound(ServiceError):
    """404: unknown object."""

    status = 404


class Conflict(ServiceError):
    """409: uniqueness or state clash."""

    status = 409


class PayloadTooLarge(ServiceError):
    """413: body or upload over its limit."""

    status = 413


class RateLimited(ServiceError):
    """429: too many requests; sent with ``Retry-After``."""

    status = 429


class UpstreamError(ServiceError):
    """502: the WhatsApp driver or another upstream failed."""

    status = 502


class ServiceUnavailable(ServiceError):
    """503: a backing service is not answering."""

    status = 503


class ErrorBodySchema(ma.Schema):
    """The inner object of the error envelope."""

    code = ma.fields.String(required=True, metadata={"example": "INVALID_PAYLOAD"})
    message = ma.fields.String(required=True, metadata={"example": "Field 'to' is required"})
    details = ma.fields.Dict(
        required=True, metadata={"example": {"to": ["Missing data for required field."]}}
    )
    request_id = ma.fields.String(required=True, metadata={"example": "9f1c2b7e4d"})
    timestamp = ma.fields.String(required=True, metadata={"example": "2026-01-01T10:00:00Z"})


class ErrorEnvelopeSchema(ma.Schema):
    """Every non-2xx answer: ``{"error": {...}}``."""

    error = ma.fields.Nested(ErrorBodySchema, required=True)


def utc_timestamp() -> str:
    """The current time as ISO 8601 UTC with a ``Z`` suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_response(
    status: int,
    message: str | None = None,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build the envelope response for ``status``."""
    body = {
        "error": {
            "code": ERROR_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "ERROR"),
            "message": message or DEFAULT_MESSAGES.get(status, "Error"),
            "details": dict(details or {}),
            "request_id": current_request_id(),
            "timestamp": utc_timestamp(),
        }
    }
    response = jsonify(body)
    response.status_code = 400 if status == 422 else status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested error dict into ``{"a.b.c": [messages]}``."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_errors(value, path))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    if isinstance(messages, list):
        flat = {}
        for index, value in enumerate(messages):
            flat.update(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "_schema": [str(messages)]}


def validation_message(details: Mapping[str, list[str]]) -> str:
    """A one-line summary of field errors, naming the first failing field."""
    if not details:
        return DEFAULT_MESSAGES[400]
    field, messages = next(iter(details.items()))
    first = messages[0] if messages else "is invalid"
    if first == "Missing data for required field.":
        summary = f"Field '{field}' is required"
    elif field == "_schema":
        summary = first.rstrip(".")
    else:
        summary = f"Field '{field}': {first.rstrip('.')}"
    more = len(details) - 1
    return summary + (f" (and {more} more)" if more else "")


#: webargs request locations (errors arrive nested under them).
_LOCATIONS = ("json", "query", "form", "files", "form_and_files", "headers", "view_args")


def _webargs_details(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """webargs nests field errors under the request location (``json``, ``query``...)."""
    messages = data.get("errors") or data.get("messages") or {}
    if isinstance(messages, Mapping):
        merged: dict[str, Any] = {}
        for location, errors in messages.items():
            if location in _LOCATIONS:
                if isinstance(errors, Mapping):
                    merged.update(errors)
                else:
                    merged["_schema"] = errors
            else:
                merged[location] = errors
        messages = merged
    return flatten_errors(messages)


def handle_http_exception(error: HTTPException) -> Response:
    """Turn any werkzeug HTTP exception (abort, routing, webargs) into the envelope."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if status >= 500:
        log.error("server error %s", status, exc_info=error)
        return error_response(status if status in ERROR_CODES else 500)
    details: dict[str, list[str]] = {}
    message = data.get("message")
    if status in (400, 422) and ("messages" in data or "errors" in data):
        details = _webargs_details(data)
        message = message or validation_message(details)
    if status == 400 and not message and error.description:
        message = DEFAULT_MESSAGES[400]
    return error_response(status, message, details, headers)


def handle_service_error(error: ServiceError) -> Response:
    """Turn a :class:`ServiceError` raised by a service into the envelope."""
    message = error.message
    if isinstance(error, InvalidPayload) and error.details and message == DEFAULT_MESSAGES[400]:
        message = validation_message(error.details)
    return error_response(error.status, message, error.details, error.headers)


def handle_unexpected(error: Exception) -> Response:
    """Log an unexpected exception with its stack trace (server side only); answer 500."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled exception: %s", type(error).__name__)
    return error_response(500)


def handle_database_error(error: sa_exc.DBAPIError) -> Response:
    """A lost or refused database connection is 503 (retry), not a server bug.

    Pooled connections are not pinged before use (a round trip per request):
    after a database restart, the request that finds its connection dead gets
    this answer, and SQLAlchemy replaces every pooled connection.
    """
    if not (error.connection_invalidated or isinstance(error, sa_exc.OperationalError)):
        return handle_unexpected(error)
    log.warning("database unavailable: %s", type(error.orig).__name__)
    return error_response(503, "The database is unavailable; retry shortly", headers={"Retry-After": "1"})


class EnvelopeApi(Api):
    """flask-smorest's ``Api`` whose error answers (and their docs) use the envelope."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        """Answer every ``HTTPException`` with the envelope."""
        return handle_http_exception(error)


def register_error_handlers(app: Flask) -> None:
    """Route every exception the app can raise to the envelope."""
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(sa_exc.DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
