"""Schemas of the WhatsApp endpoints: session, messages in and out, inbound injection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import validate

from dxconnect.api.pagination import PageArgsSchema, page_schema
from dxconnect.models.whatsapp import INBOUND, OUTBOUND, RECEIVED, WhatsAppMessage
from dxconnect.whatsapp.driver import MESSAGE_STATUSES, MESSAGE_TYPES, SESSION_STATUSES
from dxconnect.whatsapp.messages import NewMessage

PHONE = validate.Regexp(r"^[0-9]{8,15}$", error="Must be 8 to 15 digits.")
PRINTABLE = validate.Regexp(r"^[^\x00-\x1f\x7f]*$", error="Must not contain control characters.")
MEDIA_TYPES = tuple(t for t in MESSAGE_TYPES if t != "text")
#: ``media_url`` and the per-type names it is also accepted as.
MEDIA_URL_FIELDS = ("media_url", *(f"{t}_url" for t in MEDIA_TYPES))
MEDIA_EXTRAS = ("caption", "filename")
EXAMPLE_ID = "3f2b8c1e9d7a4b6c8e0f1a2b3c4d5e6f"
EXAMPLE_TIME = "2026-01-01T10:00:00Z"


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z`` (a naive time, as SQLite returns them, is UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class UtcDateTime(ma.fields.DateTime):
    """A timestamp written as ISO 8601 UTC."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else iso_utc(value)


def _url(**metadata: Any) -> ma.fields.Url:
    return ma.fields.Url(
        schemes={"http", "https"}, validate=validate.Length(max=2048), metadata=metadata
    )


class SessionStartedSchema(ma.Schema):
    """The session status right after a start request."""

    status = ma.fields.String(
        required=True, validate=validate.OneOf(SESSION_STATUSES), metadata={"example": "connecting"}
    )


class QrcodeSchema(ma.Schema):
    """The QR code to scan with the phone, a base64 PNG."""

    image_b64 = ma.fields.String(required=True, metadata={"example": "iVBORw0KGgoAAAANSUhEUg=="})


class SessionStatusSchema(SessionStartedSchema):
    """The session as every process sees it."""

    driver = ma.fields.String(required=True, metadata={"example": "stub"})
    updated_at = UtcDateTime(required=True, metadata={"example": EXAMPLE_TIME})
    qrcode = ma.fields.Nested(QrcodeSchema, metadata={"description": "Only while `qrcode`"})
    reason = ma.fields.String(metadata={"description": "Only while `failed`"})


class MessageCreateSchema(ma.Schema):
    """A message to send: ``to``, ``type`` and the type's fields."""

    to = ma.fields.String(required=True, validate=PHONE, metadata={"example": "5511999999999"})
    type = ma.fields.String(
        required=True, validate=validate.OneOf(MESSAGE_TYPES), metadata={"example": "text"}
    )
    text = ma.fields.String(validate=validate.Length(1, 4096), metadata={"example": "Olá!"})
    media_url = _url(example="https://example.com/cardapio.pdf")
    image_url = _url(description="Same as media_url, for type image")
    video_url = _url(description="Same as media_url, for type video")
    audio_url = _url(description="Same as media_url, for type audio")
    document_url = _url(description="Same as media_url, for type document")
    caption = ma.fields.String(validate=validate.Length(max=1024))
    filename = ma.fields.String(validate=validate.Length(1, 255))
    client_message_id = ma.fields.String(
        validate=[validate.Length(1, 255), PRINTABLE],
        metadata={"description": "Idempotency key: a retry returns the first message_id"},
    )

    @ma.validates_schema
    def check_type_fields(self, data: dict[str, Any], **_: Any) -> None:
        """``text`` needs ``text``; a media type needs one media URL; nothing else is allowed."""
        kind = data.get("type")
        if kind not in MESSAGE_TYPES:
            return
        allowed = {"text"} if kind == "text" else {"media_url", f"{kind}_url", *MEDIA_EXTRAS}
        given = {"text", *MEDIA_URL_FIELDS, *MEDIA_EXTRAS} & data.keys()
        errors = {name: [f"Not allowed for type '{kind}'."] for name in given - allowed}
        urls = {data[name] for name in ("media_url", f"{kind}_url") if name in data}
        if kind == "text" and "text" not in data:
            errors["text"] = ["Missing data for required field."]
        elif kind != "text" and not urls:
            errors["media_url"] = ["Missing data for required field."]
        elif len(urls) > 1:
            errors["media_url"] = [f"media_url and {kind}_url differ."]
        if errors:
            raise ma.ValidationError(errors)

    @ma.post_load
    def make_message(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """``{"message": NewMessage, "client_message_id": str | None}``."""
        kind = data["type"]
        if kind == "text":
            content = {"text": data["text"]}
        else:
            url = data.get("media_url") or data[f"{kind}_url"]
            content = {"media_url": url, **{k: data[k] for k in MEDIA_EXTRAS if k in data}}
        return {
            "message": NewMessage(to=data["to"], type=kind, content=content),
            "client_message_id": data.get("client_message_id"),
        }


class IdempotencyHeaderSchema(ma.Schema):
    """The optional ``Idempotency-Key`` header (same meaning as ``client_message_id``)."""

    idempotency_key = ma.fields.String(data_key="Idempotency-Key", validate=validate.Length(1, 255))


class MessageAcceptedSchema(ma.Schema):
    """The id of the stored message, and its first status."""

    message_id = ma.fields.String(required=True, metadata={"example": EXAMPLE_ID})
    status = ma.fields.String(
        required=True, validate=validate.Equal("queued"), metadata={"example": "queued"}
    )


class MessageSchema(ma.Schema):
    """A stored message, sent or received, with the time of each status it reached."""

    message_id = ma.fields.String(required=True, metadata={"example": EXAMPLE_ID})
    direction = ma.fields.String(required=True, validate=validate.OneOf((OUTBOUND, INBOUND)))
    to = ma.fields.String(
        attribute="recipient", allow_none=True, metadata={"example": "5511999999999"}
    )
    from_ = ma.fields.String(attribute="sender", data_key="from", allow_none=True)
    chat_id = ma.fields.String(allow_none=True)
    type = ma.fields.String(required=True, metadata={"example": "text"})
    payload = ma.fields.Method(
        "get_payload", metadata={"type": "object", "example": {"type": "text", "text": "Olá!"}}
    )
    status = ma.fields.String(required=True, metadata={"example": "delivered"})
    error = ma.fields.String(allow_none=True)
    client_message_id = ma.fields.String(allow_none=True)
    created_at = UtcDateTime(required=True, metadata={"example": EXAMPLE_TIME})
    status_times = ma.fields.Method(
        "get_status_times",
        metadata={
            "type": "object",
            "additionalProperties": {"type": "string", "format": "date-time"},
            "example": {"queued": EXAMPLE_TIME, "sent": EXAMPLE_TIME},
        },
    )

    def get_payload(self, message: WhatsAppMessage) -> dict[str, Any]:
        """The message's type and fields, as in ``message_received`` events."""
        return {"type": message.type, **message.content}

    def get_status_times(self, message: WhatsAppMessage) -> dict[str, str]:
        """Status -> when it was reached."""
        return {status: iso_utc(at) for status, at in message.status_times().items()}


MessagePageSchema = page_schema(MessageSchema)


class MessageListArgsSchema(PageArgsSchema):
    """Filters of the message list (all optional) and the page."""

    direction = ma.fields.String(validate=validate.OneOf((OUTBOUND, INBOUND)))
    status = ma.fields.String(validate=validate.OneOf((*MESSAGE_STATUSES, RECEIVED)))
    to = ma.fields.String(validate=[validate.Length(1, 64), PRINTABLE])
    from_ = ma.fields.String(
        data_key="from", attribute="from", validate=[validate.Length(1, 64), PRINTABLE]
    )


class InboundSchema(ma.Schema):
    """A text a customer "wrote" (development only)."""

    from_ = ma.fields.String(
        data_key="from", attribute="from", required=True, validate=PHONE,
        metadata={"example": "5511988887777"},
    )  # fmt: skip
    text = ma.fields.String(
        required=True, validate=validate.Length(1, 4096), metadata={"example": "Oi, tudo bem?"}
    )


class InboundAcceptedSchema(ma.Schema):
    """The injection was handed to the session; the message arrives as ``message_received``."""

    status = ma.fields.String(
        required=True, validate=validate.Equal("accepted"), metadata={"example": "accepted"}
    )
