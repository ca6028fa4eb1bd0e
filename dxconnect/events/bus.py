"""The event bus: every event published in any process reaches every subscriber.

Without ``REDIS_URL`` the bus is in-process (one server process). With Redis,
:class:`dxconnect.events.redis_bus.RedisBus` carries events across processes
and hosts. Both keep a bounded history so a subscriber can resume after the
last event it saw (``last_event_id``) with no gap and no duplicate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from flask import Flask, current_app

from dxconnect.events.subscriptions import (
    Event,
    MemoryHistory,
    Subscriber,
    SubscriberSet,
    Subscription,
    UnknownEventId,
)
from dxconnect.metrics.instruments import count_published

EXTENSION = "dxconnect.bus"

__all__ = ["EventBus", "InProcessBus", "Subscriber", "UnknownEventId", "get_bus", "init_app"]


class EventBus(Protocol):
    """What the rest of the service needs from a bus."""

    def publish(self, event: Event) -> None:
        """Record ``event`` (a v1 envelope) in the history and deliver it, in every process.

        Raises :class:`dxconnect.events.redis_bus.BusUnavailable` (a 503
        ``ServiceError``) when the event could not be recorded.
        """

    def publish_all(self, events: Sequence[Event]) -> None:
        """:meth:`publish` each of ``events``, in order, at the cost of one publish where the
        bus can (one Redis round trip); raises as :meth:`publish` does."""

    def subscribe(
        self, callback: Subscriber, last_event_id: str | None = None
    ) -> Callable[[], None]:
        """BROADCAST: call ``callback(event)`` in this process for every event published by any
        process; returns a function that unsubscribes.

        With ``last_event_id``, first the events published after that one (from
        the history), then the live ones: no gap, no duplicate. Raises
        :class:`UnknownEventId` (nothing subscribed) when that id is not in the
        history — never seen, or older than the history keeps.
        Callbacks must be quick (hand the event over, don't do I/O); with Redis
        they run on the process's listener (greenlet or thread), in order.
        """

    def consume(self, group: str, callback: Subscriber) -> Callable[[], None]:
        """COMPETING CONSUMERS: each event published from now on is handled by ``callback`` in
        exactly one of the processes that consume ``group`` (per deployment, not per process).

        For sinks with side effects (a webhook must not fire once per server
        process). Delivery is at least once: an event whose callback raises, or
        whose process dies before returning, is delivered again after
        ``EVENT_REDELIVERY_SECONDS`` (to any consumer of the group), up to a few
        attempts. The in-process bus has one process: it behaves as
        :meth:`subscribe`. Returns a function that stops consuming.
        """


class InProcessBus:
    """A bus for a single process: subscribers are called synchronously, in order.

    Keeps the last ``history_size`` events of the last ``history_seconds``
    seconds in memory for ``last_event_id`` replays.
    """

    def __init__(self, history_size: int = 10_000, history_seconds: int = 86_400) -> None:
        self._subscriptions = SubscriberSet()
        self._history = MemoryHistory(history_size, history_seconds)
        self._position = 0
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        """Record ``event`` and call every subscriber; a failing one does not stop the others."""
        with self._lock:
            self._position += 1
            position = self._position
            self._history.append(position, event)
            subscriptions = self._subscriptions.snapshot()
        count_published(event["type"])
        SubscriberSet.dispatch(subscriptions, position, event)

    def publish_all(self, events: Sequence[Event]) -> None:
        """:meth:`publish` each of ``events``, in order."""
        for event in events:
            self.publish(event)

    def subscribe(
        self, callback: Subscriber, last_event_id: str | None = None
    ) -> Callable[[], None]:
        """Register ``callback`` (after replaying what followed ``last_event_id``, if given)."""
        if last_event_id is None:
            return self._subscriptions.add(Subscription(callback))
        with self._lock:  # the history read and the registration see the same publishes
            start, history = self._history.after(last_event_id)
            subscription = Subscription(callback, replaying=True)
            unsubscribe = self._subscriptions.add(subscription)
        subscription.finish_replay(start, history)
        return unsubscribe

    def consume(self, group: str, callback: Subscriber) -> Callable[[], None]:
        """One process: ``callback`` handles every event once (see :meth:`EventBus.consume`)."""
        return self.subscribe(callback)


def init_app(app: Flask) -> None:
    """Give the app its bus: Redis when ``REDIS_URL`` is set, in-process otherwise.

    Nothing connects or starts here: listeners start on the first subscription,
    in the process that subscribes (after gunicorn forks).
    """
    settings = app.config["DXCONNECT_SETTINGS"]
    if settings.redis_url:
        from dxconnect.events.redis_bus import RedisBus

        app.extensions[EXTENSION] = RedisBus(
            settings.redis_url,
            history_size=settings.event_history_size,
            history_seconds=settings.event_history_seconds,
            redelivery_seconds=settings.event_redelivery_seconds,
        )
    else:
        app.extensions[EXTENSION] = InProcessBus(
            settings.event_history_size, settings.event_history_seconds
        )


def get_bus(app: Flask | None = None) -> EventBus:
    """The bus of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
