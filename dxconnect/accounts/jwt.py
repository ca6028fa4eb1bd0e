"""flask-jwt-extended's manager, remembering the tokens it has already verified.

A client sends the same access token with every request until it expires,
and verifying it (three base64 segments decoded several times over, an HMAC,
the claim checks) is the largest part of an authenticated request's cost.
The verified claims of recent tokens are kept per app, keyed by the whole
encoded token (signature included, so only a byte-identical token can hit),
and reused while the token is unexpired; an expired or unknown token goes
through the full verification, which also raises the usual errors.
Revocation is not cached here: it is checked on every request.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config

EXTENSION = "dxconnect.verified_tokens"
#: How many verified tokens each process remembers (the oldest is forgotten first).
CAPACITY = 4096


class CachingJWTManager(JWTManager):
    """A ``JWTManager`` that verifies each distinct token once while it is valid."""

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict:
        verified: dict[tuple[str, Any], dict] = current_app.extensions.setdefault(EXTENSION, {})
        key = (encoded_token, csrf_value)
        claims = verified.get(key)
        if claims is not None and (allow_expired or _unexpired(claims)):
            return dict(claims)  # a copy: callers may annotate the claims they are given
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if _unexpired(claims):
            if len(verified) >= CAPACITY:
                del verified[next(iter(verified))]
            verified[key] = claims
        return claims


def _unexpired(claims: dict) -> bool:
    expires = claims.get("exp")
    return expires is None or time.time() < expires + config.leeway
