"""Marshmallow schemas shared by the core endpoints (auth, me)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from dxconnect.accounts.passwords import MIN_PASSWORD_LENGTH


def optional_email(load_default: object = ma.missing, **metadata: object) -> ma.fields.String:
    """An e-mail address, or ``""`` for "not filled in yet"."""
    return ma.fields.String(
        load_default=load_default,
        validate=[
            validate.Length(max=254),
            lambda value: value == "" or validate.Email()(value) is not None,
        ],
        metadata={"description": "An e-mail address, or empty", **metadata},
    )


_TOKEN_EXAMPLE = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


class CredentialsSchema(ma.Schema):
    """Username and password, exchanged for a token pair."""

    username = ma.fields.String(
        required=True, validate=validate.Length(1, 150), metadata={"example": "admin"}
    )
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(1, 1024),
        metadata={"example": "admin"},
    )


class TokenPairSchema(ma.Schema):
    """An access token (short-lived) and a refresh token (long-lived)."""

    access = ma.fields.String(required=True, metadata={"example": _TOKEN_EXAMPLE})
    refresh = ma.fields.String(required=True, metadata={"example": _TOKEN_EXAMPLE})


class RefreshSchema(ma.Schema):
    """A refresh token."""

    refresh = ma.fields.String(
        required=True, validate=validate.Length(1, 4096), metadata={"example": _TOKEN_EXAMPLE}
    )


class GroupRefSchema(ma.Schema):
    """A group, by id and name."""

    id = ma.fields.Integer(required=True, metadata={"example": 1})
    name = ma.fields.String(required=True, metadata={"example": "Supervisores"})


class MeSchema(ma.Schema):
    """The authenticated agent, with its effective permissions and groups."""

    id = ma.fields.Integer(dump_only=True, metadata={"example": 1})
    username = ma.fields.String(dump_only=True, metadata={"example": "admin"})
    email = optional_email(example="admin@example.com")
    display_name = ma.fields.String(
        validate=validate.Length(max=150), metadata={"example": "Administrador"}
    )
    phone_number = ma.fields.String(
        validate=validate.Regexp(r"^\+?[0-9 ()-]{0,32}$", error="Must be a phone number."),
        metadata={"example": "+55 11 99999-9999"},
    )
    is_superuser = ma.fields.Boolean(dump_only=True, metadata={"example": True})
    permissions = ma.fields.Method(
        "get_permissions",
        dump_only=True,
        metadata={
            "type": "array",
            "items": {"type": "string"},
            "example": ["core.manage_config_whatsapp"],
        },
    )
    groups = ma.fields.List(ma.fields.Nested(GroupRefSchema), dump_only=True)

    def get_permissions(self, agent: object) -> list[str]:
        """The agent's effective permissions, sorted."""
        return sorted(agent.permission_names())  # type: ignore[attr-defined]


class MePatchSchema(ma.Schema):
    """The fields an agent may change on its own profile."""

    email = optional_email(example="maria@example.com")
    display_name = ma.fields.String(validate=validate.Length(max=150))
    phone_number = ma.fields.String(
        validate=validate.Regexp(r"^(\+?[0-9 ()-]{0,32})?$", error="Must be a phone number.")
    )


class PasswordChangeSchema(ma.Schema):
    """The current password and the new one."""

    current_password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(1, 1024)
    )
    new_password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(MIN_PASSWORD_LENGTH, 1024)
    )
