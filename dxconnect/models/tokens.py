"""Revoked JWTs, stored so a logout survives restarts and holds in every process."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dxconnect.extensions import db
from dxconnect.models.agents import utcnow


class RevokedToken(db.Model):
    """A token id (``jti``) that must no longer be accepted, kept until it expires."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    token_type: Mapped[str] = mapped_column(sa.String(16))
    agent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("agents.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
