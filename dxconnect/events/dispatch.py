"""Wire the enabled sinks (``EVENT_SINKS``) to the app's event bus.

Each enabled sink gets a :class:`~dxconnect.events.worker.SinkWorker` that
subscribes to the bus, so every sink receives the identical event (same
``id``) whichever process published it. With Redis, each process's bus sees
every event: a per-sink claim in Redis (``SET NX``) makes exactly one process
deliver each event to each sink. Without Redis there is one process and no claim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import Flask, current_app

from dxconnect.events.bus import get_bus
from dxconnect.events.dead_letters import recorder
from dxconnect.events.sink import EventSink
from dxconnect.events.worker import Claim, SinkWorker
from dxconnect.redis_client import get_redis

EXTENSION = "dxconnect.sinks"
#: How long a delivery claim is kept in Redis (longer than any retry schedule).
CLAIM_SECONDS = 24 * 3600
CLAIM_KEY = "dxconnect:sink-claim:{sink}:{event_id}"


@dataclass
class _ActiveSinks:
    workers: dict[str, SinkWorker] = field(default_factory=dict)
    unsubscribers: list[Callable[[], None]] = field(default_factory=list)


def start_sinks(app: Flask, sink_classes: Mapping[str, type[EventSink]]) -> None:
    """Instantiate every sink named in ``EVENT_SINKS`` and subscribe it to the bus.

    ``sink_classes`` must hold every enabled name (the plugin manager checks).
    A sink's constructor may raise ``SettingsError`` for its own settings.
    """
    settings = app.config["DXCONNECT_SETTINGS"]
    claim = _redis_claim(app)
    store = recorder(app)
    active = _ActiveSinks()
    for name in settings.event_sinks:
        sink = sink_classes[name](settings)
        active.workers[name] = SinkWorker(sink, claim=claim, dead_letter=store)
    bus = get_bus(app)
    active.unsubscribers = [bus.subscribe(worker.submit) for worker in active.workers.values()]
    app.extensions[EXTENSION] = active


def active_sinks(app: Flask | None = None) -> dict[str, SinkWorker]:
    """The enabled sinks of ``app`` (default: the current app), by name, in ``EVENT_SINKS`` order."""
    return (app or current_app).extensions[EXTENSION].workers


def stop_sinks(app: Flask, timeout: float = 5.0) -> None:
    """Unsubscribe every sink and stop its worker (pending retries become dead letters)."""
    active: _ActiveSinks = app.extensions[EXTENSION]
    for unsubscribe in active.unsubscribers:
        unsubscribe()
    for worker in active.workers.values():
        worker.close(timeout)


def _redis_claim(app: Flask) -> Claim | None:
    client = get_redis(app)
    if client is None:
        return None

    def claim(sink: str, event_id: str) -> bool:
        key = CLAIM_KEY.format(sink=sink, event_id=event_id)
        return bool(client.set(key, b"1", nx=True, ex=CLAIM_SECONDS))

    return claim
