"""Authenticated encryption of secret configuration fields (Fernet, with key rotation).

Keys come from ``FIELD_ENCRYPTION_KEYS`` (comma-separated Fernet keys, see
:mod:`dxconnect.settings`). The first key encrypts every new value; every key
is tried when decrypting, so an operator rotates by putting a new key first,
running ``flask --app wsgi rotate-encryption-keys`` and finally dropping the
old key. An empty string means "not set" and is stored as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app


class DecryptionError(ValueError):
    """A stored secret could not be decrypted with any configured key."""


class FieldCipher:
    """Encrypts and decrypts secret strings with a list of Fernet keys (first one encrypts)."""

    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        """The token for ``plaintext`` under the first key; ``""`` stays ``""`` (not set)."""
        if plaintext == "":
            return ""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The plaintext of ``token``; :class:`DecryptionError` when no key opens it."""
        return self._open(self._fernet.decrypt, token)

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted under the first key (:class:`DecryptionError` if unreadable)."""
        return self._open(self._fernet.rotate, token)

    @staticmethod
    def _open(operation: Callable[[bytes], bytes], token: str) -> str:
        if token == "":
            return ""
        try:
            return operation(token.encode()).decode()
        except InvalidToken:
            raise DecryptionError(
                "a stored secret cannot be decrypted with the configured keys"
            ) from None


def cipher() -> FieldCipher:
    """The current app's :class:`FieldCipher`."""
    return current_app.extensions["dxconnect.cipher"]


def init_app(app: Flask) -> None:
    """Build the app's cipher from ``FIELD_ENCRYPTION_KEYS`` (validated by the settings)."""
    app.extensions["dxconnect.cipher"] = FieldCipher(
        app.config["DXCONNECT_SETTINGS"].field_encryption_keys
    )
