"""WhatsApp: the session, messages sent and received, and development-only inbound injection."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import current_user

from dxconnect.api.blueprint import Blueprint
from dxconnect.api.pagination import paginate
from dxconnect.api.whatsapp_schemas import (
    IdempotencyHeaderSchema,
    InboundAcceptedSchema,
    InboundSchema,
    MessageAcceptedSchema,
    MessageCreateSchema,
    MessageListArgsSchema,
    MessagePageSchema,
    MessageSchema,
    SessionStartedSchema,
    SessionStatusSchema,
)
from dxconnect.models.whatsapp import WhatsAppMessage
from dxconnect.whatsapp import inbox, messages, session
from dxconnect.whatsapp.runtime import driver_class, wake_runner

MANAGE = "core.manage_config_whatsapp"

blp = Blueprint(
    "whatsapp", __name__, url_prefix="/api/v1/whatsapp", description="WhatsApp session and messages"
)


@blp.route("/session/start")
class SessionStart(MethodView):
    """Session start."""

    @blp.requires(MANAGE)
    @blp.response(202, SessionStartedSchema)
    def post(self) -> dict[str, str]:
        """Start the session; already starting or ready answers the current status."""
        status = session.request_start()
        wake_runner()
        return {"status": status}


@blp.route("/session/status")
class SessionStatus(MethodView):
    """Session status."""

    @blp.requires()
    @blp.response(200, SessionStatusSchema)
    def get(self) -> dict[str, Any]:
        """The session status (the same from every server process), with the QR code to scan."""
        return {**session.session_view(), "driver": driver_class().name}


@blp.route("/session")
class Session(MethodView):
    """Session."""

    @blp.requires(MANAGE)
    @blp.response(204)
    def delete(self) -> None:
        """Stop the session (it reads ``disconnected`` at once)."""
        session.request_stop()
        wake_runner()


@blp.route("/messages")
class Messages(MethodView):
    """Messages."""

    @blp.requires()
    @blp.arguments(MessageListArgsSchema, location="query")
    @blp.response(200, MessagePageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Messages sent and received, newest first, filtered by direction, status, to or from."""
        return paginate(messages.message_query(args), args)

    @blp.requires(MANAGE)
    @blp.arguments(
        MessageCreateSchema,
        example={"to": "5511999999999", "type": "text", "text": "Olá! Seu pedido saiu."},
    )
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(202, MessageAcceptedSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any], headers: dict[str, str]) -> dict[str, str]:
        """Queue a message; it is stored before this answer and sent when the session is ready.

        The same `client_message_id` (or `Idempotency-Key` header) from the same
        agent answers the same `message_id` and sends nothing twice.
        """
        message_id = messages.send_message(
            current_user.id,
            body["message"],
            (body["client_message_id"], headers.get("idempotency_key")),
            driver_class(),
        )
        wake_runner()
        return {"message_id": message_id, "status": "queued"}


@blp.route("/messages/<message_id>")
class Message(MethodView):
    """Message."""

    @blp.requires()
    @blp.response(200, MessageSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, message_id: str) -> WhatsAppMessage:
        """A stored message with its status and the time of each status."""
        return messages.get_message(message_id)


@blp.route("/inbound")
class Inbound(MethodView):
    """Inbound injection."""

    @blp.requires(MANAGE)
    @blp.arguments(InboundSchema, example={"from": "5511988887777", "text": "Oi, tudo bem?"})
    @blp.response(202, InboundAcceptedSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, str]) -> dict[str, str]:
        """Development only: a text arrives as if the customer `from` wrote it."""
        inbox.request_injection(
            body["from"],
            body["text"],
            production=current_app.config["DXCONNECT_SETTINGS"].is_production,
            driver=driver_class(),
        )
        wake_runner()
        return {"status": "accepted"}
