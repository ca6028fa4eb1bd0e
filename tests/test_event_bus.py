"""The event bus: broadcast, history replay, competing consumers — on real Redis and in process."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from dxconnect import create_app
from dxconnect.events.bus import EventBus, InProcessBus, UnknownEventId, get_bus
from dxconnect.events.envelope import make_event
from dxconnect.events.redis_bus import LISTENER_NAME, MAX_ATTEMPTS, RedisBus
from dxconnect.events.subscriptions import Subscription
from tests.conftest import ROOT, TEST_REDIS_URL

WAIT = 5.0


def status_event(status: str = "ready") -> dict[str, Any]:
    """A valid v1 event."""
    return make_event("session_status", {"status": status})


def receive(inbox: queue.Queue, count: int) -> list[str]:
    """The ids of the next ``count`` events in ``inbox`` (failing after :data:`WAIT`)."""
    return [inbox.get(timeout=WAIT)["id"] for _ in range(count)]


def assert_nothing_more(inbox: queue.Queue, wait: float = 0.5) -> None:
    """No further event arrives within ``wait`` seconds."""
    with pytest.raises(queue.Empty):
        extra = inbox.get(timeout=wait)
        pytest.fail(f"unexpected event {extra}")


@pytest.fixture
def make_bus(test_env: dict[str, str]) -> Callable[..., EventBus]:
    """``make_bus("redis"|"memory", **env)``: the bus of a fresh app (a process of its own)."""

    def factory(kind: str, **overrides: str) -> EventBus:
        env = {**test_env, **overrides}
        if kind == "memory":
            env["REDIS_URL"] = ""
        return get_bus(create_app(env))

    return factory


@pytest.fixture(params=["redis", "memory"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    """Run a test on both buses."""
    return request.param


def test_bus_is_redis_with_redis_url_and_in_process_without(make_bus):
    assert isinstance(make_bus("redis"), RedisBus)
    assert isinstance(make_bus("memory"), InProcessBus)


def test_redis_bus_broadcasts_every_event_to_subscribers_of_every_process(make_bus):
    first, second, publisher = make_bus("redis"), make_bus("redis"), make_bus("redis")
    inboxes = [queue.Queue(), queue.Queue(), queue.Queue()]
    first.subscribe(inboxes[0].put)
    first.subscribe(inboxes[1].put)
    second.subscribe(inboxes[2].put)
    events = [status_event(s) for s in ("connecting", "qrcode", "ready")]
    for event in events:
        publisher.publish(event)
    for inbox in inboxes:
        received = [inbox.get(timeout=WAIT) for _ in events]
        assert received == events
        assert_nothing_more(inbox)


def test_unsubscribed_callback_receives_nothing_more(make_bus, bus_kind):
    bus = make_bus(bus_kind)
    inbox: queue.Queue = queue.Queue()
    unsubscribe = bus.subscribe(inbox.put)
    first = status_event()
    bus.publish(first)
    assert receive(inbox, 1) == [first["id"]]
    unsubscribe()
    bus.publish(status_event())
    assert_nothing_more(inbox)


def test_failing_subscriber_does_not_stop_the_others(make_bus, bus_kind):
    bus = make_bus(bus_kind)
    inbox: queue.Queue = queue.Queue()

    def broken(_event: dict[str, Any]) -> None:
        raise RuntimeError("sink down")

    bus.subscribe(broken)
    bus.subscribe(inbox.put)
    events = [status_event(), status_event()]
    for event in events:
        bus.publish(event)
    assert receive(inbox, 2) == [e["id"] for e in events]


def test_replay_after_last_event_id_then_live_without_gap_or_duplicate(make_bus, bus_kind):
    bus = make_bus(bus_kind)
    publisher = make_bus("redis") if bus_kind == "redis" else bus
    # A slow subscriber keeps the listener behind the stream: live events then overlap the
    # history read, which is what the hand-off must get right.
    bus.subscribe(lambda _event: time.sleep(0.002))
    published: list[str] = []

    def publish(count: int) -> None:
        for _ in range(count):
            event = status_event()
            publisher.publish(event)
            published.append(event["id"])

    publish(5)
    racing = threading.Thread(target=publish, args=(200,))
    inbox: queue.Queue = queue.Queue()
    racing.start()  # events keep coming while the subscriber replays and goes live
    time.sleep(0.05)
    bus.subscribe(inbox.put, last_event_id=published[1])
    racing.join()
    publish(3)
    expected = published[2:]
    assert receive(inbox, len(expected)) == expected
    assert_nothing_more(inbox)


def test_hand_off_delivers_history_then_backlog_once_and_drops_what_a_lagging_listener_repeats():
    delivered: list[int] = []
    subscription = Subscription(lambda event: delivered.append(event["n"]), replaying=True)
    for position in (3, 4, 5):  # live events arriving while the history is read
        subscription.deliver(position, {"n": position})
    assert delivered == []
    subscription.finish_replay(1, [(2, {"n": 2}), (3, {"n": 3}), (4, {"n": 4})])
    assert delivered == [2, 3, 4, 5]
    subscription.deliver(5, {"n": 5})  # the listener was behind the history read
    subscription.deliver(6, {"n": 6})
    assert delivered == [2, 3, 4, 5, 6]


def test_unknown_last_event_id_raises_and_subscribes_nothing(make_bus, bus_kind):
    bus = make_bus(bus_kind)
    inbox: queue.Queue = queue.Queue()
    for unknown in ("0123456789abcdef0123456789abcdef", "not an id!", "x" * 500):
        with pytest.raises(UnknownEventId):
            bus.subscribe(inbox.put, last_event_id=unknown)
    bus.publish(status_event())
    assert_nothing_more(inbox)


def test_history_keeps_a_bounded_number_of_events(make_bus, bus_kind):
    # Redis trims whole stream nodes (about 100 entries), so publish well past the bound.
    bus = make_bus(bus_kind, EVENT_HISTORY_SIZE="5")
    events = [status_event() for _ in range(300)]
    for event in events:
        bus.publish(event)
    inbox: queue.Queue = queue.Queue()
    with pytest.raises(UnknownEventId):
        bus.subscribe(inbox.put, last_event_id=events[0]["id"])
    bus.subscribe(inbox.put, last_event_id=events[-3]["id"])
    assert receive(inbox, 2) == [e["id"] for e in events[-2:]]


def test_history_forgets_events_older_than_its_time_bound(make_bus, bus_kind):
    bus = make_bus(bus_kind, EVENT_HISTORY_SECONDS="1")
    old = status_event()
    bus.publish(old)
    time.sleep(2.1)
    bus.publish(status_event())
    with pytest.raises(UnknownEventId):
        bus.subscribe(queue.Queue().put, last_event_id=old["id"])


def test_publish_all_appends_in_order_and_replays_like_single_publishes(make_bus, bus_kind):
    bus = make_bus(bus_kind)
    inbox: queue.Queue = queue.Queue()
    bus.subscribe(inbox.put)
    first = status_event("connecting")
    bus.publish(first)
    batch = [status_event(s) for s in ("qrcode", "authenticated", "ready")]
    bus.publish_all(batch)
    assert receive(inbox, 4) == [e["id"] for e in [first, *batch]]
    assert_nothing_more(inbox)
    replayed: queue.Queue = queue.Queue()
    bus.subscribe(replayed.put, last_event_id=batch[0]["id"])  # each event is indexed
    assert receive(replayed, 2) == [e["id"] for e in batch[1:]]


def test_publish_all_reloads_a_flushed_script_and_appends_each_event_once(make_bus):
    bus = make_bus("redis")
    bus.publish(status_event())  # the script is loaded
    redis.Redis.from_url(TEST_REDIS_URL).script_flush()  # as after a Redis restart
    inbox: queue.Queue = queue.Queue()
    bus.subscribe(inbox.put)
    batch = [status_event() for _ in range(3)]
    bus.publish_all(batch)
    assert receive(inbox, 3) == [e["id"] for e in batch]
    assert_nothing_more(inbox)


def test_publish_all_without_redis_raises_service_unavailable(make_bus):
    from dxconnect.errors import ServiceUnavailable

    bus = make_bus("redis", REDIS_URL="redis://127.0.0.1:1/0")
    with pytest.raises(ServiceUnavailable):
        bus.publish_all([status_event()])


def test_redis_history_survives_the_publishing_process(make_bus):
    publisher = make_bus("redis")
    events = [status_event() for _ in range(3)]
    for event in events:
        publisher.publish(event)
    del publisher
    inbox: queue.Queue = queue.Queue()
    make_bus("redis").subscribe(inbox.put, last_event_id=events[0]["id"])
    assert receive(inbox, 2) == [e["id"] for e in events[1:]]


def test_listener_reconnects_and_misses_nothing_published_meanwhile(make_bus):
    bus = make_bus("redis")
    inbox: queue.Queue = queue.Queue()
    bus.subscribe(inbox.put)
    before = status_event()
    bus.publish(before)
    assert receive(inbox, 1) == [before["id"]]
    admin = redis.Redis.from_url(TEST_REDIS_URL)
    database = admin.connection_pool.connection_kwargs.get("db", 0)
    listeners = [
        c for c in admin.client_list() if c["name"] == LISTENER_NAME and int(c["db"]) == database
    ]
    assert listeners, "the listener's connection is named in CLIENT LIST"
    for connection in listeners:
        admin.client_kill_filter(_id=connection["id"])
    during = [status_event() for _ in range(3)]
    for event in during:
        bus.publish(event)
    assert receive(inbox, 3) == [e["id"] for e in during]


def test_publish_without_redis_raises_service_unavailable(make_bus):
    from dxconnect.errors import ServiceUnavailable

    bus = make_bus("redis", REDIS_URL="redis://127.0.0.1:1/0")
    with pytest.raises(ServiceUnavailable):
        bus.publish(status_event())
    with pytest.raises(ServiceUnavailable):
        bus.subscribe(queue.Queue().put)


def test_in_process_consume_handles_every_event(make_bus):
    bus = make_bus("memory")
    inbox: queue.Queue = queue.Queue()
    bus.consume("webhook", inbox.put)
    event = status_event()
    bus.publish(event)
    assert receive(inbox, 1) == [event["id"]]


@pytest.fixture
def consumers(test_env: dict[str, str]) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``tests.bus_consumer`` processes; killed at the end of the test."""
    started: list[subprocess.Popen] = []

    def start(group: str, *flags: str, **env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.bus_consumer", group, *flags],
            cwd=ROOT, env={**os.environ, **test_env, **env}, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        started.append(process)
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def handled(group: str, count: int, wait: float = 15.0) -> list[tuple[int, str]]:
    """The ``(pid, event id)`` pairs recorded by consumers of ``group``, once ``count`` are in."""
    store = redis.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    deadline = time.monotonic() + wait
    while store.llen(f"handled:{group}") < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a duplicate would arrive now
    pairs = [item.split() for item in store.lrange(f"handled:{group}", 0, -1)]
    return [(int(pid), event_id) for pid, event_id in pairs]


def test_consume_hands_each_event_to_exactly_one_of_two_processes(make_bus, consumers):
    first, second = consumers("webhook"), consumers("webhook")
    bus = make_bus("redis")
    events = [status_event() for _ in range(40)]
    for event in events:
        bus.publish(event)
        time.sleep(0.02)
    records = handled("webhook", len(events))
    assert sorted(event_id for _, event_id in records) == sorted(e["id"] for e in events)
    assert {pid for pid, _ in records} == {first.pid, second.pid}


def test_every_consumer_group_gets_every_event(make_bus):
    bus = make_bus("redis")
    inboxes = {"webhook": queue.Queue(), "audit": queue.Queue()}
    stops = [bus.consume(group, inbox.put) for group, inbox in inboxes.items()]
    try:
        events = [status_event() for _ in range(5)]
        for event in events:
            bus.publish(event)
        for inbox in inboxes.values():
            assert receive(inbox, 5) == [e["id"] for e in events]
            assert_nothing_more(inbox)
    finally:
        for stop in stops:
            stop()


def test_consumer_recreates_its_group_when_the_stream_is_deleted(make_bus):
    bus = make_bus("redis")
    inbox: queue.Queue = queue.Queue()
    stop = bus.consume("webhook", inbox.put)
    try:
        redis.Redis.from_url(TEST_REDIS_URL).delete("dxconnect:events")
        time.sleep(2.5)  # the consumer's next read finds no group and creates it again
        event = status_event()
        bus.publish(event)
        assert receive(inbox, 1) == [event["id"]]
    finally:
        stop()


def test_event_left_unacknowledged_by_a_killed_consumer_is_redelivered(make_bus, consumers):
    doomed = consumers("webhook", "--die", EVENT_REDELIVERY_SECONDS="1")
    bus = make_bus("redis")
    lost = status_event()
    bus.publish(lost)
    assert doomed.wait(timeout=WAIT) == -signal.SIGKILL
    survivor = consumers("webhook", EVENT_REDELIVERY_SECONDS="1")
    later = status_event()
    bus.publish(later)
    records = handled("webhook", 2)
    assert sorted(records) == sorted([(survivor.pid, lost["id"]), (survivor.pid, later["id"])])


def test_event_whose_consumer_keeps_failing_is_dropped_after_max_attempts(make_bus):
    bus = make_bus("redis", EVENT_REDELIVERY_SECONDS="1")
    attempts: queue.Queue = queue.Queue()

    def failing(event: dict[str, Any]) -> None:
        attempts.put(event["id"])
        raise RuntimeError("webhook down")

    stop = bus.consume("webhook", failing)
    try:
        event = status_event()
        bus.publish(event)
        seen = [attempts.get(timeout=WAIT) for _ in range(MAX_ATTEMPTS)]
        assert seen == [event["id"]] * MAX_ATTEMPTS
        store = redis.Redis.from_url(TEST_REDIS_URL)
        deadline = time.monotonic() + WAIT
        while (
            store.xpending("dxconnect:events", "webhook")["pending"] and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert store.xpending("dxconnect:events", "webhook")["pending"] == 0
        assert_nothing_more(attempts, wait=1.5)
    finally:
        stop()
