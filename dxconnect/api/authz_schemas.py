"""Schemas of the agents and authorization endpoints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from dxconnect.accounts.passwords import MIN_PASSWORD_LENGTH
from dxconnect.api.pagination import PageArgsSchema
from dxconnect.api.schemas import MePatchSchema, MeSchema
from dxconnect.fields import MAX_ID, FullMatch, StrictBoolean, StrictInteger, UtcDateTime
from dxconnect.models import Group


def not_blank(value: str) -> None:
    """Refuse a value made only of spaces."""
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


def id_list(*, required: bool = False, **metadata: object) -> ma.fields.List:
    """A list of object ids."""
    return ma.fields.List(
        StrictInteger(validate=validate.Range(min=1, max=MAX_ID)),
        required=required,
        validate=validate.Length(max=1000),
        metadata=metadata,
    )


class PermissionSchema(ma.Schema):
    """A permission, named ``app_label.codename``."""

    id = ma.fields.Integer(metadata={"example": 6})
    app_label = ma.fields.String(metadata={"example": "accounts"})
    model = ma.fields.String(metadata={"example": "agent"})
    codename = ma.fields.String(metadata={"example": "manage_auth"})
    name = ma.fields.String(metadata={"example": "Can manage agents, groups and permissions"})


class GroupSchema(ma.Schema):
    """A group and the ids of its permissions."""

    id = ma.fields.Integer(metadata={"example": 1})
    name = ma.fields.String(metadata={"example": "Supervisores"})
    permissions = ma.fields.Method(
        "permission_ids",
        metadata={"type": "array", "items": {"type": "integer"}, "example": [1, 6]},
    )

    def permission_ids(self, group: Group) -> list[int]:
        """The group's permission ids."""
        return [permission.id for permission in group.permissions]


class GroupCreateSchema(ma.Schema):
    """A new group: a unique name and permission ids."""

    name = ma.fields.String(
        required=True,
        validate=[validate.Length(min=1, max=150), not_blank],
        metadata={"example": "Supervisores"},
    )
    permissions = id_list(example=[1, 6])


class GroupPatchSchema(GroupCreateSchema):
    """A new name and/or the complete new list of permission ids."""

    name = ma.fields.String(
        validate=[validate.Length(min=1, max=150), not_blank], metadata={"example": "Supervisão"}
    )


class AgentGroupsSchema(ma.Schema):
    """The ids of the agent's groups (replaced as a whole) and the groups themselves."""

    group_ids = id_list(required=True, example=[1])
    groups = ma.fields.List(ma.fields.Nested(GroupSchema), dump_only=True)


class AgentSchema(MeSchema):
    """An agent, its state and effective permissions (passwords are never returned)."""

    is_active = ma.fields.Boolean(dump_only=True, metadata={"example": True})
    created_at = UtcDateTime(dump_only=True)
    last_login = UtcDateTime(dump_only=True, allow_none=True)


_USERNAME = [
    validate.Length(min=1, max=150),
    FullMatch(r"^[A-Za-z0-9_.@+-]+$", error="Letters, digits and _ . @ + - only."),
]


class AgentPatchSchema(MePatchSchema):
    """Fields an access manager may change on an agent; ``is_active: false`` deactivates it."""

    username = ma.fields.String(validate=_USERNAME, metadata={"example": "maria"})
    password = ma.fields.String(
        load_only=True,
        validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=1024),
        metadata={"description": "Write-only.", "example": "a-long-new-password"},
    )
    is_active = StrictBoolean(metadata={"example": False})


class AgentCreateSchema(AgentPatchSchema):
    """A new agent: username and password are required."""

    username = ma.fields.String(required=True, validate=_USERNAME, metadata={"example": "maria"})
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=1024),
        metadata={"description": "Write-only.", "example": "a-long-secret-password"},
    )


class AgentListArgsSchema(PageArgsSchema):
    """Filters of the agent list."""

    is_active = ma.fields.Boolean(
        truthy={"true"},
        falsy={"false"},
        metadata={"description": "Only active (true) or inactive (false) agents."},
    )
    search = ma.fields.String(
        validate=validate.Length(max=150),
        metadata={
            "description": "Part of the username, display name or e-mail (case-insensitive)."
        },
    )
