"""The deployment's configuration (one row, one JSON column per section) and its audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dxconnect.extensions import db
from dxconnect.models.agents import utcnow

#: JSON everywhere, JSONB on PostgreSQL.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

#: The primary key of the only configuration row.
CONFIGURATION_ID = 1


class Configuration(db.Model):
    """The one configuration of the deployment; each section is a JSON object.

    Secret fields are stored encrypted (see :mod:`dxconnect.configuration.crypto`). Writers
    lock this row (``SELECT ... FOR UPDATE``) so concurrent changes of
    different sections never overwrite each other.
    """

    __tablename__ = "configuration"
    __table_args__ = (sa.CheckConstraint(f"id = {CONFIGURATION_ID}", name="singleton"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    company_data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    chat_settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    email_settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    appearance_settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    whatsapp_settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ConfigAuditEntry(db.Model):
    """One change of one configuration section: who, when, which fields (never values)."""

    __tablename__ = "config_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, index=True
    )
    agent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    agent_username: Mapped[str] = mapped_column(sa.String(150))
    section: Mapped[str] = mapped_column(sa.String(40), index=True)
    action: Mapped[str] = mapped_column(sa.String(20))
    fields: Mapped[list[str]] = mapped_column(JSONType)
