"""Per-process cache of what authenticating a request needs, kept fresh across processes.

An authenticated request needs two facts: is this token revoked, and what may
this agent do. Asking PostgreSQL (or Redis) for both on every request costs
round trips, so each process keeps them in memory, and every process that
changes them tells the others over a Redis channel:

* the ids of unexpired revoked tokens, loaded from the database (the source of
  truth) and then kept current by ``revoked`` messages;
* immutable :class:`AgentSnapshot` objects, dropped on a ``changed`` message,
  sent after every commit that changes an agent, a group or a permission
  (see :func:`watch_session`).

A request first reads whatever messages are waiting on the subscription (a
non-blocking read, no round trip). The process that made a change applies it
at once; the others see it as soon as Redis delivers the message, about a
millisecond later (a request they answer inside that window still sees the
state before). The subscription is made *before* the revocations are loaded,
so nothing falls in between; when it breaks, it is made again and everything
is reloaded. While Redis cannot be reached, revocations are read from the
database and agents are not cached at all (slower, never stale).

Without Redis (the single-process embedded default) the same state lives in
process memory, loaded from the database on first use.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask, current_app, has_app_context, has_request_context, request
from redis.client import PubSub
from sqlalchemy.orm import Session, selectinload

from dxconnect.extensions import db
from dxconnect.models import Agent, Group, Permission, RevokedToken
from dxconnect.redis_client import get_redis

EXTENSION = "dxconnect.accounts.auth_cache"
#: Set in the WSGI environ once the current request has read the subscription.
REQUEST_SYNCED = "dxconnect.auth_synced"
#: The Redis channel every process announces authorization changes on, per Redis database
#: (channels are server-wide, databases are not: two deployments may share one server).
CHANNEL_PREFIX = "dxconnect:auth:changes:"
CHANGED = "changed"  # agents, groups or permissions changed: drop every snapshot
REVOKED = "revoked"  # "revoked <jti> <expiry>": a token was revoked
SUBSCRIBE_TIMEOUT_SECONDS = 2.0
#: After Redis could not be reached, how long requests use the database before trying again.
RETRY_SECONDS = 1.0
#: Expired revocations are forgotten once this many (or twice the last count) are held.
PRUNE_THRESHOLD = 10_000
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
    """Snapshots and revocations of one app, kept current through a Redis channel."""

    def __init__(self, client: redis.Redis | None):
        self.redis = client
        self._snapshots: dict[int, AgentSnapshot | None] = {}
        self._revoked: dict[str, float] | None = None  # token id -> expiry (Unix time)
        self._prune_at = PRUNE_THRESHOLD
        self._epoch = 0  # bumped whenever the snapshots are dropped
        self._subscription: PubSub | None = None
        self._missed_messages = False
        self._retry_at = 0.0
        self._lock = threading.Lock()
        database = client.connection_pool.connection_kwargs.get("db", 0) if client else 0
        self.channel = f"{CHANNEL_PREFIX}{database}"

    # -- revocation -------------------------------------------------------------------------
    def is_revoked(self, jti: str) -> bool:
        """True when token ``jti`` was revoked."""
        if not self._sync():
            return db.session.get(RevokedToken, jti) is not None
        return self._revocations().get(jti, 0.0) > time.time()

    def mark_revoked(self, jti: str, expires_at: datetime) -> None:
        """Make a revocation just stored in the database visible to every process."""
        expires = expires_at.timestamp()
        if self._revoked is not None:
            self._remember(jti, expires)
        self._publish(f"{REVOKED} {jti} {expires}")

    # -- agents -----------------------------------------------------------------------------
    def agent(self, agent_id: int) -> AgentSnapshot | None:
        """The snapshot of an active agent, or None when it is unknown or inactive."""
        return self._agent(agent_id, current=self._sync())

    def refused(self, owners: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
        """Of ``(token id, agent id)`` pairs, those whose token was revoked or whose agent is
        no longer active (for checking open WebSockets in bulk: one sync for them all).

        Empty while other processes' changes cannot be followed (Redis unreachable):
        a database query per open socket would cost more than the tokens' remaining
        minutes are worth; they still expire.
        """
        if not self._sync():
            return set()
        now, revoked = time.time(), self._revocations()
        return {
            (token_id, agent_id)
            for token_id, agent_id in owners
            if revoked.get(token_id, 0.0) > now or self._agent(agent_id, current=True) is None
        }

    def _agent(self, agent_id: int, current: bool) -> AgentSnapshot | None:
        """The agent's snapshot: the cached one, else loaded (and cached if ``current``)."""
        if agent_id in self._snapshots:
            return self._snapshots[agent_id]
        epoch = self._epoch
        snapshot = _load_snapshot(agent_id)
        # Loaded while a change arrived: the snapshot may predate it, so it is not kept.
        if current and epoch == self._epoch:
            self._snapshots[agent_id] = snapshot
        return snapshot

    def invalidate(self) -> None:
        """Tell every process that agents, groups or permissions changed."""
        self._drop_snapshots()
        self._publish(CHANGED)

    # -- keeping current --------------------------------------------------------------------
    def _sync(self) -> bool:
        """Apply the changes other processes announced; False while they cannot be followed.

        Once per request: checking the token and loading its agent both ask, microseconds
        apart, and the second read of the subscription would find nothing new.
        """
        if self.redis is None:
            return True
        if not has_request_context():
            return self._read_subscription()
        environ = request.environ
        current = environ.get(REQUEST_SYNCED)
        if current is None:
            current = environ[REQUEST_SYNCED] = self._read_subscription()
        return current

    def _read_subscription(self) -> bool:
        with self._lock:
            if self._subscription is not None:
                try:
                    self._apply_waiting_messages()
                except (redis.RedisError, OSError):
                    self._unfollow()  # broken: subscribe again at once, below
            try:
                if self._subscription is None or self._missed_messages:
                    self._unfollow()
                    self._follow()
            except (redis.RedisError, OSError):
                self._unfollow()
                return False
            return True

    def _follow(self) -> None:
        """Subscribe, then (re)load everything the subscription could have missed."""
        if time.monotonic() < self._retry_at:
            raise redis.ConnectionError("Redis was unreachable a moment ago")
        self._retry_at = time.monotonic() + RETRY_SECONDS  # until this attempt succeeds
        subscription = self.redis.pubsub()  # type: ignore[union-attr]
        self._subscription = subscription
        subscription.subscribe(self.channel)
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_SECONDS
        while True:
            message = subscription.get_message(timeout=max(deadline - time.monotonic(), 0.0))
            if message is not None and message["type"] == "subscribe":
                break
            if time.monotonic() >= deadline:
                raise redis.TimeoutError("no subscription confirmation from Redis")
        self._retry_at = 0.0
        # redis-py reconnects (and resubscribes) a broken subscription by itself; whatever
        # was published meanwhile is lost, so a reconnection means: reload everything.
        self._missed_messages = False
        subscription.connection.register_connect_callback(self._on_reconnect)  # type: ignore[union-attr]
        self._revoked = {}
        self._remember_all(_stored_revocations())
        self._drop_snapshots()

    def _on_reconnect(self, _connection: Any) -> None:
        self._missed_messages = True

    def _unfollow(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                self._subscription.close()
        self._subscription = None
        self._drop_snapshots()

    def _apply_waiting_messages(self) -> None:
        subscription = self._subscription
        assert subscription is not None
        while True:
            message = subscription.get_message(timeout=0.0)
            if message is None:
                # redis-py also answers None when what it read was the reply to its own
                # health-check PING (sent on an idle subscription): messages may be waiting
                # right behind it. Only an empty socket means there is nothing more.
                if not subscription.connection.can_read(timeout=0):  # type: ignore[union-attr]
                    return
                continue
            if message["type"] != "message":
                continue
            kind, _, detail = message["data"].decode().partition(" ")
            if kind == CHANGED:
                self._drop_snapshots()
            elif kind == REVOKED:
                jti, _, expires = detail.partition(" ")
                self._remember(jti, float(expires))

    def _publish(self, message: str) -> None:
        if self.redis is not None:
            self.redis.publish(self.channel, message)

    def _drop_snapshots(self) -> None:
        self._epoch += 1
        self._snapshots.clear()

    def _revocations(self) -> dict[str, float]:
        if self._revoked is None:  # without Redis: loaded on first use
            self._revoked = {}
            self._remember_all(_stored_revocations())
        return self._revoked

    def _remember_all(self, revocations: Iterable[tuple[str, datetime]]) -> None:
        for jti, expires_at in revocations:
            self._remember(jti, expires_at.timestamp())

    def _remember(self, jti: str, expires: float) -> None:
        revoked = self._revoked
        assert revoked is not None
        revoked[jti] = expires
        if len(revoked) >= self._prune_at:  # forget revocations whose token has expired
            now = time.time()
            for expired in [j for j, exp in revoked.items() if exp <= now]:
                del revoked[expired]
            self._prune_at = max(PRUNE_THRESHOLD, 2 * len(revoked))


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
