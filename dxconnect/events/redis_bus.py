"""The Redis event bus: one Redis Stream is both the history and the live feed of every process.

- ``publish`` appends the event to the stream ``dxconnect:events`` (trimmed to
  ``EVENT_HISTORY_SIZE`` entries and ``EVENT_HISTORY_SECONDS``) and indexes its
  id -> stream entry id, atomically (one Lua script, one round trip).
- ``subscribe`` (broadcast): one listener per process (a greenlet under gevent,
  a thread otherwise) reads the stream with ``XREAD BLOCK`` from the entry it
  last saw and hands each event to every subscription of the process. After a
  Redis outage it reconnects with backoff and carries on from that entry, so a
  blip loses nothing. It starts with the first subscription, in the process
  that subscribes — never at import, so gunicorn workers each get their own.
- ``consume`` (competing consumers): a consumer group per sink name; each entry
  goes to one consumer of the group, is acknowledged after its callback
  returns, and is claimed by another consumer when left unacknowledged for
  ``EVENT_REDELIVERY_SECONDS`` (at least once, :data:`MAX_ATTEMPTS` at most).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis

from dxconnect.errors import ServiceUnavailable
from dxconnect.events.envelope import to_json
from dxconnect.events.subscriptions import (
    Event,
    Positioned,
    Subscriber,
    SubscriberSet,
    Subscription,
    UnknownEventId,
)
from dxconnect.metrics.instruments import count_published

log = logging.getLogger("dxconnect.events")

STREAM = "dxconnect:events"
INDEX_PREFIX = "dxconnect:events:id:"
LISTENER_NAME = "dxconnect-listener"
#: How long one blocking read waits before it is issued again (milliseconds).
BLOCK_MS = 2_000
#: Entries read per round trip.
READ_COUNT = 500
#: Deliveries of one entry to a consumer group before it is dropped (and logged).
MAX_ATTEMPTS = 5
_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

#: KEYS: stream, index key. ARGV: event JSON, max entries, max age (s).
_PUBLISH = """
local entry = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[1])
local now = redis.call('TIME')
local oldest = (tonumber(now[1]) - tonumber(ARGV[3])) * 1000
redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', oldest))
redis.call('SET', KEYS[2], entry, 'EX', ARGV[3])
return entry
"""


class BusUnavailable(ServiceUnavailable):
    """Redis did not accept or serve the event stream (503 in a request)."""


@contextmanager
def unavailable_on_redis_error() -> Iterator[None]:
    """Turn a Redis failure into :class:`BusUnavailable`."""
    try:
        yield
    except redis.RedisError as exc:
        raise BusUnavailable("The event bus is unavailable") from exc


def _position(entry_id: bytes | str) -> tuple[int, int]:
    milliseconds, _, sequence = (
        entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ).partition("-")
    return int(milliseconds), int(sequence or 0)


def _decode(fields: dict[bytes, bytes] | None) -> Event | None:
    """The event stored in a stream entry; None (logged) for a malformed one."""
    try:
        return json.loads((fields or {})[b"e"])
    except (KeyError, ValueError):
        log.error("malformed entry in the event stream", extra={"fields": repr(fields)[:200]})
        return None


class Backoff:
    """Sleeps between reconnection attempts: 0.1 s, doubling, at most 5 s."""

    def __init__(self, first: float = 0.1, most: float = 5.0) -> None:
        self.first, self.most = first, most
        self.delay = first

    def wait(self, what: str, error: Exception) -> None:
        """Log ``error`` and sleep the current delay (cooperatively under gevent)."""
        log.warning(
            "%s failed (%s: %s); retrying in %.1f s", what, type(error).__name__, error, self.delay
        )
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, self.most)

    def reset(self) -> None:
        """Back to the first delay after a success."""
        self.delay = self.first


def _daemon(name: str, target: Callable[[], None]) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()


class RedisBus:
    """The bus across processes and hosts (see the module docstring)."""

    def __init__(
        self, url: str, history_size: int, history_seconds: int, redelivery_seconds: int
    ) -> None:
        self.url = url
        self.history_size = history_size
        self.history_seconds = history_seconds
        self.redelivery_seconds = redelivery_seconds
        self.client = self.connect(socket_timeout=5)
        self._publish = self.client.register_script(_PUBLISH)
        self._subscriptions = SubscriberSet()
        self._listener_pid: int | None = None
        self._lock = threading.Lock()

    def connect(self, socket_timeout: float, name: str | None = None) -> redis.Redis:
        """A new client of the bus's Redis (blocking readers need their own connections).

        ``name`` shows in ``CLIENT LIST``, so operators can tell the readers apart.
        """
        return redis.Redis.from_url(
            self.url, socket_timeout=socket_timeout, socket_connect_timeout=2, client_name=name
        )

    def publish(self, event: Event) -> None:
        """Append ``event`` to the stream; :class:`BusUnavailable` when Redis refuses."""
        with unavailable_on_redis_error():
            self._publish(keys=self._keys(event), args=self._args(event))
        count_published(event["type"])

    def publish_all(self, events: Sequence[Event]) -> None:
        """Append ``events`` in order, in one round trip (a pipeline of the publish script).

        A script Redis no longer knows (restarted, ``SCRIPT FLUSH``) is loaded
        and run again for exactly the events it refused: none is appended twice.
        """
        with unavailable_on_redis_error():
            pipeline = self.client.pipeline(transaction=False)
            for event in events:
                pipeline.evalsha(self._publish.sha, 2, *self._keys(event), *self._args(event))
            replies = pipeline.execute(raise_on_error=False)
            for event, reply in zip(events, replies, strict=True):
                if isinstance(reply, redis.exceptions.NoScriptError):
                    self._publish(keys=self._keys(event), args=self._args(event))
                elif isinstance(reply, Exception):
                    raise reply
        for event in events:
            count_published(event["type"])

    @staticmethod
    def _keys(event: Event) -> list[str]:
        return [STREAM, INDEX_PREFIX + event["id"]]

    def _args(self, event: Event) -> list[str | int]:
        return [to_json(event), self.history_size, self.history_seconds]

    def subscribe(
        self, callback: Subscriber, last_event_id: str | None = None
    ) -> Callable[[], None]:
        """Broadcast subscription; see :meth:`dxconnect.events.bus.EventBus.subscribe`."""
        self._ensure_listener()
        if last_event_id is None:
            return self._subscriptions.add(Subscription(callback))
        start = self._position_of(last_event_id)
        subscription = Subscription(callback, replaying=True)
        unsubscribe = self._subscriptions.add(subscription)
        try:
            history = self._history_from(start, last_event_id)
        except BaseException:
            unsubscribe()
            raise
        subscription.finish_replay(start, history)
        return unsubscribe

    def consume(self, group: str, callback: Subscriber) -> Callable[[], None]:
        """Competing consumers; see :meth:`dxconnect.events.bus.EventBus.consume`."""
        consumer = GroupConsumer(self, group, callback)
        with unavailable_on_redis_error():
            consumer.create_group(self.client)
        _daemon(f"dxconnect-consumer-{group}", consumer.run)
        return consumer.stop

    def _ensure_listener(self) -> None:
        """Start this process's listener at the stream's current end (once per process)."""
        with self._lock:
            if self._listener_pid == os.getpid():
                return
            with unavailable_on_redis_error():
                last = self.client.xrevrange(STREAM, count=1)
            cursor = last[0][0] if last else b"0-0"
            _daemon("dxconnect-event-listener", lambda: self._listen(cursor))
            self._listener_pid = os.getpid()

    def _listen(self, cursor: bytes) -> None:
        client = self.connect(socket_timeout=BLOCK_MS / 1000 + 5, name=LISTENER_NAME)
        backoff = Backoff()
        while True:
            try:
                reply = client.xread({STREAM: cursor}, count=READ_COUNT, block=BLOCK_MS)
            except redis.RedisError as exc:
                backoff.wait("event stream read", exc)
                continue
            backoff.reset()
            for _stream, entries in reply or ():
                for entry_id, fields in entries:
                    cursor = entry_id
                    event = _decode(fields)
                    if event is not None:
                        SubscriberSet.dispatch(
                            self._subscriptions.snapshot(), _position(entry_id), event
                        )

    def _position_of(self, event_id: str) -> tuple[int, int]:
        entry_id = None
        if _EVENT_ID.match(event_id):
            with unavailable_on_redis_error():
                entry_id = self.client.get(INDEX_PREFIX + event_id)
        if entry_id is None:
            raise UnknownEventId(event_id)
        return _position(entry_id)

    def _history_from(self, start: tuple[int, int], event_id: str) -> list[Positioned]:
        """The entries after ``start``; :class:`UnknownEventId` once ``start`` was trimmed away."""
        history: list[Positioned] = []
        lower = f"{start[0]}-{start[1]}"  # inclusive: the first entry must be ``start`` itself
        with unavailable_on_redis_error():
            page = self.client.xrange(STREAM, min=lower, max="+", count=READ_COUNT)
            if not page or _position(page[0][0]) != start:
                raise UnknownEventId(event_id)
            while True:
                for entry_id, fields in page:
                    event = _decode(fields)
                    if event is not None:
                        history.append((_position(entry_id), event))
                if len(page) < READ_COUNT:
                    return history
                lower = "(" + page[-1][0].decode()
                page = self.client.xrange(STREAM, min=lower, max="+", count=READ_COUNT)


class GroupConsumer:
    """One process's member of a consumer group: reads, handles, acknowledges, reclaims."""

    def __init__(self, bus: RedisBus, group: str, callback: Subscriber) -> None:
        self.bus = bus
        self.group = group
        self.callback = callback
        self.name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._stopped = threading.Event()

    def create_group(self, client: redis.Redis) -> None:
        """Create the group at the stream's end unless it exists (events from now on)."""
        try:
            client.xgroup_create(STREAM, self.group, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def stop(self) -> None:
        """Stop consuming (within one blocking read); unacknowledged entries go to others."""
        self._stopped.set()

    def run(self) -> None:
        """Read, handle and acknowledge until stopped; reconnect with backoff.

        A group that disappears (the stream was deleted) is created again.
        """
        client = self.bus.connect(
            socket_timeout=BLOCK_MS / 1000 + 5,
            name="dxconnect-consumer-" + re.sub(r"[^A-Za-z0-9_.:-]", "_", self.group),
        )
        backoff = Backoff()
        reclaim_every = self.bus.redelivery_seconds / 2
        block_ms = min(BLOCK_MS, int(reclaim_every * 1000))
        next_reclaim = 0.0
        group_missing = False
        while not self._stopped.is_set():
            try:
                if group_missing:
                    self.create_group(client)
                    group_missing = False
                if time.monotonic() >= next_reclaim:
                    self._reclaim(client)
                    next_reclaim = time.monotonic() + reclaim_every
                reply = client.xreadgroup(
                    self.group, self.name, {STREAM: ">"}, count=100, block=block_ms
                )
                for _stream, entries in reply or ():
                    for entry_id, fields in entries:
                        self._handle(client, entry_id, fields)
                backoff.reset()
            except redis.ResponseError as exc:
                group_missing = "NOGROUP" in str(exc)
                if not group_missing:
                    backoff.wait(f"consumer group {self.group}", exc)
            except redis.RedisError as exc:
                backoff.wait(f"consumer group {self.group}", exc)

    def _handle(self, client: redis.Redis, entry_id: bytes, fields: Any) -> None:
        event = _decode(fields)
        if event is not None:
            try:
                self.callback(event)
            except Exception:
                log.exception(
                    "event consumer failed; the event will be redelivered",
                    extra={"event_id": event.get("id"), "group": self.group},
                )
                return
        client.xack(STREAM, self.group, entry_id)

    def _reclaim(self, client: redis.Redis) -> None:
        """Take over entries another consumer (maybe dead) left unacknowledged for too long."""
        idle_ms = self.bus.redelivery_seconds * 1000
        pending = client.xpending_range(
            STREAM, self.group, min="-", max="+", count=100, idle=idle_ms
        )
        retry = []
        for item in pending:
            if item["times_delivered"] >= MAX_ATTEMPTS:
                log.error(
                    "event dropped after %d attempts", item["times_delivered"],
                    extra={"entry_id": item["message_id"].decode(), "group": self.group},
                )  # fmt: skip
                client.xack(STREAM, self.group, item["message_id"])
            else:
                retry.append(item["message_id"])
        if retry:
            for entry_id, fields in client.xclaim(
                STREAM, self.group, self.name, min_idle_time=idle_ms, message_ids=retry
            ):
                self._handle(client, entry_id, fields)
