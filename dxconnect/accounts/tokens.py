"""JWT access/refresh tokens: issuing, rotating, revoking, and every JWT error as the envelope.

Revoked token ids live in the database (``revoked_tokens``) so a logout holds
after a restart and in every process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import sqlalchemy as sa
from flask import Flask, Response, g
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from sqlalchemy.exc import IntegrityError

from dxconnect.accounts.auth_cache import AgentSnapshot, auth_cache
from dxconnect.errors import Unauthorized, error_response
from dxconnect.extensions import db, jwt
from dxconnect.models import Agent, RevokedToken
from dxconnect.models.agents import utcnow


def issue_tokens(agent: Agent | AgentSnapshot) -> dict[str, str]:
    """A fresh ``{"access", "refresh"}`` pair for ``agent``."""
    return {
        "access": create_access_token(identity=agent, fresh=True),
        "refresh": create_refresh_token(identity=agent),
    }


def decode(token: str, expected_type: str) -> dict[str, Any]:
    """Verify signature, expiry, type and revocation of ``token``; :class:`Unauthorized` if bad."""
    try:
        payload = decode_token(token)
    except pyjwt.ExpiredSignatureError:
        raise Unauthorized("Token has expired") from None
    except (pyjwt.PyJWTError, JWTExtendedException):  # malformed, tampered, wrong key, alg none
        raise Unauthorized("Token is invalid") from None
    if payload.get("type") != expected_type:
        raise Unauthorized(f"A {expected_type} token is required")
    if is_revoked(payload["jti"]):
        raise Unauthorized("Token has been revoked")
    return payload


def agent_for(payload: dict[str, Any]) -> AgentSnapshot:
    """The active agent a verified token belongs to; :class:`Unauthorized` otherwise."""
    agent = load_agent(payload.get("sub"))
    if agent is None:
        raise Unauthorized("Agent not found or inactive")
    return agent


def agent_from_access_token(token: str) -> tuple[AgentSnapshot, dict[str, Any]]:
    """Authenticate a raw access token (used by WebSockets, which take ``?token=``)."""
    payload = decode(token, "access")
    return agent_for(payload), payload


def rotate(refresh_token: str) -> dict[str, str]:
    """Exchange a refresh token for a new pair; the old refresh token stops working.

    Revocation is an insert on the token id's primary key, so two concurrent
    uses of one refresh token cannot both succeed.
    """
    payload = decode(refresh_token, "refresh")
    agent = agent_for(payload)
    if not revoke(payload):
        raise Unauthorized("Token has been revoked")
    return issue_tokens(agent)


def logout(refresh_token: str, agent: AgentSnapshot, access_payload: dict[str, Any]) -> None:
    """Revoke the caller's refresh token and the access token of this request."""
    try:
        payload = decode_token(refresh_token, allow_expired=True)
    except (pyjwt.PyJWTError, JWTExtendedException):
        raise Unauthorized("Token is invalid") from None
    if payload.get("type") != "refresh" or str(payload.get("sub")) != str(agent.id):
        raise Unauthorized("The refresh token does not belong to this session")
    revoke(payload)
    revoke(access_payload)


def revoke(payload: dict[str, Any]) -> bool:
    """Record ``payload``'s token id as revoked; False when it already was."""
    expires = datetime.fromtimestamp(payload["exp"], UTC)
    db.session.execute(sa.delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
    db.session.add(
        RevokedToken(
            jti=payload["jti"],
            token_type=payload.get("type", "access"),
            agent_id=_int_or_none(payload.get("sub")),
            expires_at=expires,
        )
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    auth_cache().mark_revoked(payload["jti"], expires)
    return True


def is_revoked(jti: str) -> bool:
    """True when the token id was revoked (answered from the shared cache)."""
    return auth_cache().is_revoked(jti)


def load_agent(identity: Any) -> AgentSnapshot | None:
    """The active agent for a token subject, or None (from the shared agent cache)."""
    agent_id = _int_or_none(identity)
    return auth_cache().agent(agent_id) if agent_id is not None else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _unauthorized(message: str) -> Response:
    return error_response(401, message)


def _register_callbacks() -> None:
    @jwt.user_identity_loader
    def _identity(agent: Agent | AgentSnapshot) -> str:
        return str(agent.id)

    @jwt.user_lookup_loader
    def _lookup(_header: dict, payload: dict) -> AgentSnapshot | None:
        agent = load_agent(payload.get("sub"))
        if agent is not None:
            g.agent_id = agent.id
        return agent

    @jwt.token_in_blocklist_loader
    def _blocked(_header: dict, payload: dict) -> bool:
        return is_revoked(payload["jti"])

    jwt.user_lookup_error_loader(lambda _h, _p: _unauthorized("Agent not found or inactive"))
    jwt.revoked_token_loader(lambda _h, _p: _unauthorized("Token has been revoked"))
    jwt.expired_token_loader(lambda _h, _p: _unauthorized("Token has expired"))
    jwt.invalid_token_loader(lambda _reason: _unauthorized("Token is invalid"))
    jwt.unauthorized_loader(lambda _reason: _unauthorized("Authentication is required"))
    jwt.needs_fresh_token_loader(lambda _h, _p: _unauthorized("A fresh token is required"))
    jwt.token_verification_failed_loader(lambda _h, _p: _unauthorized("Token is invalid"))


_register_callbacks()


def init_app(app: Flask) -> None:
    """Configure flask-jwt-extended from the settings object."""
    settings = app.config["DXCONNECT_SETTINGS"]
    app.config.update(
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=settings.access_token_seconds),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=settings.refresh_token_seconds),
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt.init_app(app)

