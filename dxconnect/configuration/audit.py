"""The configuration audit log: who changed which fields of which section, and when.

Entries name fields (dotted paths such as ``endereco.cep``), never values, so
secrets never reach the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from dxconnect.extensions import db
from dxconnect.models import Agent, ConfigAuditEntry

#: What was done to the section.
ACTIONS = ("update", "replace", "upload", "remove_upload")


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (leaves keep their values)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The dotted paths whose value differs between ``old`` and ``new``, in ``new``'s order."""
    before, after = flatten(old), flatten(new)
    paths = list(after) + [path for path in before if path not in after]
    return [path for path in paths if before.get(path, ...) != after.get(path, ...)]


def record(section: str, action: str, fields: list[str], agent: Agent) -> None:
    """Add (without committing) one audit entry for a change made by ``agent``."""
    db.session.add(
        ConfigAuditEntry(
            agent_id=agent.id,
            agent_username=agent.username,
            section=section,
            action=action,
            fields=fields,
        )
    )


def entries(section: str | None = None) -> sa.Select[tuple[ConfigAuditEntry]]:
    """Audit entries, newest first, optionally of one section."""
    statement = sa.select(ConfigAuditEntry).order_by(ConfigAuditEntry.id.desc())
    if section is not None:
        statement = statement.where(ConfigAuditEntry.section == section)
    return statement
