"""Per-process cache of what authenticating a request needs, kept fresh across processes.

An authenticated request needs two facts: is this token revoked, and what may
this agent do. Asking PostgreSQL for both costs several round trips per
request, so each process keeps immutable :class:`AgentSnapshot` objects and
one Redis round trip tells it whether they are still current:

* a *generation* value in Redis is replaced after every commit that
  changes an agent, a group or a permission (see :func:`watch_session`); a
  process that sees a new generation drops its snapshots;
* revoked token ids are mirrored into Redis keys that expire with the token;
  the database stays the source of truth, and a marker key tells when Redis
  lost them (a restart) so they are reloaded.

Without Redis (the single-process embedded default) the same state lives in
process memory, loaded from the database on first use.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session, selectinload

from dxconnect.extensions import db
from dxconnect.models import Agent, Group, Permission, RevokedToken
from dxconnect.redis_client import get_redis

EXTENSION = "dxconnect.auth_cache"
GENERATION_KEY = "dxconnect:auth:generation"
LOADED_KEY = "dxconnect:auth:revocations-loaded"
REVOKED_PREFIX = "dxconnect:auth:revoked:"
#: Agent attributes whose change does not alter what the agent may do or see.
IGNORED_AGENT_CHANGES = frozenset({"last_login", "password_hash"})
AUTHZ_MODELS = (Agent, Group, Permission)


@dataclass(frozen=True)
class GroupRef:
    """A group as the current agent sees it."""

    id: int
    name: str


@dataclass(frozen=True)
class AgentSnapshot:
    """An immutable copy of an agent's profile and effective permissions."""

    id: int
    username: str
    email: str
    display_name: str
    phone_number: str
    is_active: bool
    is_superuser: bool
    permissions: frozenset[str]
    groups: tuple[GroupRef, ...]

    @classmethod
    def of(cls, agent: Agent) -> AgentSnapshot:
        """Copy ``agent`` (with its groups and permissions) out of the session."""
        return cls(
            id=agent.id,
            username=agent.username,
            email=agent.email,
            display_name=agent.display_name,
            phone_number=agent.phone_number,
            is_active=agent.is_active,
            is_superuser=agent.is_superuser,
            permissions=frozenset(agent.permission_names()),
            groups=tuple(GroupRef(group.id, group.name) for group in agent.groups),
        )

    def permission_names(self) -> set[str]:
        """Every permission the agent holds."""
        return set(self.permissions) if self.is_active else set()

    def has_perm(self, name: str) -> bool:
        """True when the active agent holds ``name`` (a superuser holds every permission)."""
        return self.is_active and (self.is_superuser or name in self.permissions)


class AuthCache:
    """Snapshots and revocations of one app, shared with other processes through Redis."""

    def __init__(self, client: redis.Redis | None):
        self.redis = client
        self._snapshots: dict[int, AgentSnapshot | None] = {}
        self._generation: Any = object()  # matches nothing: the first request loads
        self._local_generation = 0
        self._local_revoked: dict[str, float] | None = None
        self._lock = threading.Lock()

    # -- revocation -------------------------------------------------------------------------
    def is_revoked(self, jti: str) -> bool:
        """True when token ``jti`` was revoked; also refreshes the snapshot generation."""
        if self.redis is None:
            self._sync_generation(self._local_generation)
            return self._local_revocations().get(jti, 0) > time.time()
        generation, revoked, loaded = self.redis.mget(GENERATION_KEY, REVOKED_PREFIX + jti, LOADED_KEY)
        self._sync_generation(generation)
        if loaded is None:
            self._mirror_revocations(_stored_revocations())
            return db.session.get(RevokedToken, jti) is not None
        return revoked is not None

    def mark_revoked(self, jti: str, expires_at: datetime) -> None:
        """Make a revocation just stored in the database visible to every process."""
        self._mirror_revocations([(jti, expires_at)])

    def _local_revocations(self) -> dict[str, float]:
        if self._local_revoked is None:
            self._local_revoked = {jti: exp.timestamp() for jti, exp in _stored_revocations()}
        return self._local_revoked

    def _mirror_revocations(self, revocations: Iterable[tuple[str, datetime]]) -> None:
        now = time.time()
        if self.redis is None:
            local = self._local_revocations()
            local.update({jti: exp.timestamp() for jti, exp in revocations})
            return
        pipe = self.redis.pipeline(transaction=False)
        for jti, expires_at in revocations:
            ttl = int(expires_at.timestamp() - now) + 1
            if ttl > 0:
                pipe.set(REVOKED_PREFIX + jti, 1, ex=ttl)
        pipe.set(LOADED_KEY, 1)
        pipe.execute()

    # -- agents -----------------------------------------------------------------------------
    def agent(self, agent_id: int) -> AgentSnapshot | None:
        """The snapshot of an active agent, or None when it is unknown or inactive."""
        if agent_id not in self._snapshots:
            self._snapshots[agent_id] = _load_snapshot(agent_id)
        return self._snapshots[agent_id]

    def invalidate(self) -> None:
        """Tell every process that agents, groups or permissions changed."""
        if self.redis is None:
            self._local_generation += 1
        else:
            # A fresh random value, not a counter: a counter restarts after Redis loses its
            # data and could repeat a value some process still trusts.
            self.redis.set(GENERATION_KEY, uuid.uuid4().hex)
        self._snapshots.clear()

    def _sync_generation(self, generation: Any) -> None:
        if generation != self._generation:
            with self._lock:
                self._snapshots.clear()
                self._generation = generation


def _stored_revocations() -> list[tuple[str, datetime]]:
    now = datetime.now(UTC)
    rows = db.session.execute(
        sa.select(RevokedToken.jti, RevokedToken.expires_at).where(RevokedToken.expires_at > now)
    )
    return [(jti, _aware(expires_at)) for jti, expires_at in rows]


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _load_snapshot(agent_id: int) -> AgentSnapshot | None:
    agent = db.session.scalar(
        sa.select(Agent)
        .where(Agent.id == agent_id)
        .options(
            selectinload(Agent.groups).selectinload(Group.permissions),
            selectinload(Agent.permissions),
        )
    )
    if agent is None or not agent.is_active:
        return None
    return AgentSnapshot.of(agent)


def _changes_authorization(session: Session) -> bool:
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, AUTHZ_MODELS):
            return True
    for obj in session.dirty:
        if not isinstance(obj, AUTHZ_MODELS):
            continue
        state = sa.inspect(obj)
        changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
        if not isinstance(obj, Agent) or changed - IGNORED_AGENT_CHANGES:
            return True
    return False


def _after_flush(session: Session, _context: Any) -> None:
    if _changes_authorization(session):
        session.info["dxconnect_auth_changed"] = True


def _after_commit(session: Session) -> None:
    if session.info.pop("dxconnect_auth_changed", False) and has_app_context():
        auth_cache().invalidate()


def _after_rollback(session: Session, _transaction: Any) -> None:
    session.info.pop("dxconnect_auth_changed", None)


def watch_session() -> None:
    """Invalidate every process's snapshots after a commit that touched authorization data."""
    for name, listener in (
        ("after_flush", _after_flush),
        ("after_commit", _after_commit),
        ("after_soft_rollback", _after_rollback),
    ):
        if not sa.event.contains(Session, name, listener):
            sa.event.listen(Session, name, listener)


def init_app(app: Flask) -> None:
    """Give the app its cache (on Redis when configured)."""
    app.extensions[EXTENSION] = AuthCache(get_redis(app))
    watch_session()


def auth_cache() -> AuthCache:
    """The current app's cache."""
    return current_app.extensions[EXTENSION]
