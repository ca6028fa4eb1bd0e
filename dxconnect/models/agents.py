"""Agents (the users of the service), groups and permissions.

Permissions are named ``app_label.codename``. An agent holds a permission
directly or through one of its groups; an active superuser holds them all.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dxconnect.extensions import db


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


agent_groups = sa.Table(
    "agent_groups",
    db.metadata,
    sa.Column("agent_id", sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
)

agent_permissions = sa.Table(
    "agent_permissions",
    db.metadata,
    sa.Column("agent_id", sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "permission_id", sa.ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True
    ),
)

group_permissions = sa.Table(
    "group_permissions",
    db.metadata,
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "permission_id", sa.ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True
    ),
)


class Permission(db.Model):
    """A named right, ``app_label.codename``."""

    __tablename__ = "permissions"
    __table_args__ = (sa.UniqueConstraint("app_label", "codename", name="uq_permissions_natural"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_label: Mapped[str] = mapped_column(sa.String(100))
    codename: Mapped[str] = mapped_column(sa.String(100))
    model: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(255))

    @property
    def full_name(self) -> str:
        """``app_label.codename``, the name used by ``Agent.has_perm``."""
        return f"{self.app_label}.{self.codename}"


class Group(db.Model):
    """A named set of permissions that agents can be placed in."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(150), unique=True)
    permissions: Mapped[list[Permission]] = relationship(
        secondary=group_permissions, order_by=Permission.id
    )


class Agent(db.Model):
    """A person who logs in and serves customers."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(150), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    display_name: Mapped[str] = mapped_column(sa.String(150), default="")
    phone_number: Mapped[str] = mapped_column(sa.String(32), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_login: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    groups: Mapped[list[Group]] = relationship(secondary=agent_groups, order_by=Group.id)
    permissions: Mapped[list[Permission]] = relationship(
        secondary=agent_permissions, order_by=Permission.id
    )

    def permission_names(self) -> set[str]:
        """Every permission the agent holds, directly, through groups, or as superuser."""
        if not self.is_active:
            return set()
        if self.is_superuser:
            # Every stored permission: migrations seed the product's six.
            return {p.full_name for p in db.session.scalars(sa.select(Permission))}
        names = {p.full_name for p in self.permissions}
        for group in self.groups:
            names.update(p.full_name for p in group.permissions)
        return names

    def has_perm(self, name: str) -> bool:
        """True when the active agent holds permission ``app_label.codename``."""
        if not self.is_active:
            return False
        return self.is_superuser or name in self.permission_names()
