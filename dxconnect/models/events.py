"""Dead letters: events a sink could not deliver after every attempt, kept for replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from dxconnect.extensions import db
from dxconnect.models.agents import utcnow


class DeadLetter(db.Model):
    """One undelivered event of one sink, with the last error and the attempts made."""

    __tablename__ = "event_dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    sink: Mapped[str] = mapped_column(sa.String(100), index=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    event: Mapped[dict[str, Any]] = mapped_column(sa.JSON().with_variant(JSONB(), "postgresql"))
    error: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_attempt_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
