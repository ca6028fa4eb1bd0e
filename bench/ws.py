"""WebSocket benchmarks on ``/ws/whatsapp/`` (gunicorn + gevent, Redis bus).

1. capacity: how many sockets the server holds, its resident memory per socket,
   and how long one event takes to reach all of them;
2. latency: from ``bus.publish`` in another process to arrival on every one of
   1,000 sockets (p50/p99), with 1 and with 2 server processes;
3. POST latency: from ``POST /api/v1/whatsapp/messages`` (stored, queued, published by
   the server) to its ``queued`` event arriving on every one of 1,000 sockets.

The client is one asyncio process on the same host (a minimal WebSocket client,
see :class:`StreamSocket`): it shares the cores with the server, so its own
frame handling is in the figures.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from bench.common import (
    Setup,
    prepare,
    raise_file_limit,
    rss_kib,
    start_server,
    summary_ms,
)
from dxconnect import create_app
from dxconnect.events.bus import get_bus
from dxconnect.events.envelope import make_event

#: Handshakes in flight at once while opening sockets (each holds a connection of the
#: worker's Redis pool during its token check; the published figures used 50).
OPEN_CONCURRENCY = 50
#: How long to wait for one event to reach every socket.
DELIVERY_TIMEOUT = 20.0
TEXT = 0x1


def arrival_key(event: dict) -> str | None:
    """How arrivals of ``event`` are filed: ``<message_id>:<status>`` for a message status
    (the poster knows the message id, not the event id), else the event id."""
    if "message_id" in event:
        return f"{event['message_id']}:{event.get('status')}"
    return event.get("id")


@dataclass
class Arrivals:
    """Arrival times of each event, by :func:`arrival_key`, as the client sees them."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def record(self, buffer: bytes, arrived: float) -> bytes:
        """Record every complete text frame in ``buffer``; returns the incomplete rest."""
        while len(buffer) >= 2:
            size, offset = buffer[1] & 0x7F, 2
            if size >= 126:
                offset = 4 if size == 126 else 10
                size = int.from_bytes(buffer[2:offset], "big")
            if len(buffer) < offset + size:
                break
            if buffer[0] & 0x0F == TEXT:
                key = arrival_key(json.loads(buffer[offset : offset + size]))
                if key:
                    self.times[key].append(arrived)
            buffer = buffer[offset + size :]
        return buffer


class StreamSocket(asyncio.Protocol):
    """One client socket: the RFC 6455 handshake, then server frames parsed as they arrive.

    Parsing in ``data_received`` (no task per socket, no per-frame wake-up) keeps
    the client's share of the measured latency small: the ``websockets`` library
    spent 40-60 us per frame here, more than the server.
    """

    def __init__(self, request: bytes, arrivals: Arrivals) -> None:
        self.request = request
        self.arrivals = arrivals
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the upgrade request."""
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        """Finish the handshake, then record each event frame."""
        arrived = time.perf_counter()
        self.buffer += data
        if not self.opened.done():
            head, upgraded, rest = self.buffer.partition(b"\r\n\r\n")
            if not upgraded:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                return
            self.buffer = rest
            self.opened.set_result(None)
        self.buffer = self.arrivals.record(self.buffer, arrived)

    def connection_lost(self, exc: Exception | None) -> None:
        """Remember the socket is gone."""
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))


class Client:
    """Many sockets on one stream URL, and the events they receive."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.sockets: list[StreamSocket] = []
        self.arrivals = Arrivals()

    async def open(self, count: int) -> None:
        """Open ``count`` more sockets (a bounded number of handshakes at a time)."""
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)
        loop = asyncio.get_running_loop()

        async def one() -> StreamSocket:
            async with gate:
                _, stream = await loop.create_connection(
                    lambda: StreamSocket(self.request, self.arrivals), self.host, self.port
                )
                await asyncio.wait_for(stream.opened, 120)
                return stream

        self.sockets.extend(await asyncio.gather(*(one() for _ in range(count))))

    @property
    def held(self) -> int:
        """Sockets still open."""
        return sum(1 for stream in self.sockets if not stream.closed)

    async def deliver(
        self, publish: Callable[[dict], None], wait: float = DELIVERY_TIMEOUT
    ) -> list[float]:
        """Publish one event on the bus; the latency of its arrival on each socket that got it."""
        event = make_event("session_status", {"status": "bench"})

        async def trigger() -> str:
            publish(event)
            return event["id"]

        return await self.deliver_via(trigger, wait)

    async def deliver_via(
        self, trigger: Callable[[], Awaitable[str]], wait: float = DELIVERY_TIMEOUT
    ) -> list[float]:
        """Run ``trigger`` (it returns the arrival key of the event it causes); the latency,
        from the start of ``trigger``, of the event's arrival on each socket that got it.

        Waits until every socket has it, at most ``wait`` seconds, or until no
        socket got it for a whole second (the fan-out is over: some missed it).
        """
        started = time.perf_counter()
        key = await trigger()
        arrivals = self.arrivals.times[key]
        progress, progressed_at = 0, started
        while len(arrivals) < len(self.sockets):
            now = time.perf_counter()
            if len(arrivals) > progress:
                progress, progressed_at = len(arrivals), now
            if now > started + wait or now > progressed_at + 1.0:
                break
            await asyncio.sleep(0.002)
        return [arrived - started for arrived in self.arrivals.times.pop(key, [])]

    async def until_all_subscribed(self, publish: Callable[[dict], None]) -> None:
        """Publish warm-up events until one reaches every socket (subscription is asynchronous)."""
        for _ in range(30):
            if len(await self.deliver(publish)) == len(self.sockets):
                return
        raise RuntimeError("the warm-up event never reached every socket")

    def close(self) -> None:
        """Drop every socket."""
        for stream in self.sockets:
            if stream.transport is not None:
                stream.transport.close()


def stream_url(base: str, token: str) -> str:
    """The ``/ws/whatsapp/`` URL of a server for ``token``."""
    return base.replace("http://", "ws://") + f"/ws/whatsapp/?token={token}"


def health_latency(base: str, samples: int = 20) -> list[float]:
    """Durations of ``GET /api/v1/health/`` (while the server holds the sockets)."""
    durations = []
    for _ in range(samples):
        started = time.perf_counter()
        requests.get(f"{base}/api/v1/health/", timeout=10).raise_for_status()
        durations.append(time.perf_counter() - started)
    return durations


async def capacity(setup: Setup, workers: int, sockets: int) -> None:
    """Hold ``sockets`` connections; report RSS per socket and one event's fan-out to all."""
    server = start_server(setup, workers)
    publish = get_bus(create_app(setup.env)).publish
    client = Client(stream_url(server.url, setup.token))
    try:
        await client.open(10)
        await client.until_all_subscribed(publish)
        pids = server.worker_pids()
        before = rss_kib(pids)
        started = time.perf_counter()
        await client.open(sockets - 10)
        opened_in = time.perf_counter() - started
        await client.until_all_subscribed(publish)
        await asyncio.sleep(1)
        after = rss_kib(pids)
        fan_out = [await client.deliver(publish) for _ in range(5)]
        health = await asyncio.to_thread(health_latency, server.url)
        held = client.held
        per_socket = (after - before) / (sockets - 10)
        print(
            f"  capacity, {workers} worker(s): {held} of {sockets} sockets held, opened in "
            f"{opened_in:.1f} s; workers' RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB, "
            f"{per_socket:.1f} KiB per socket"
        )
        print(
            f"    one event to all {held}: arrival on the last socket "
            f"{summary_ms([max(lat) for lat in fan_out])}; "
            f"missed {sum(held - len(lat) for lat in fan_out)} of {5 * held}"
        )
        print(f"    GET /api/v1/health/ meanwhile: {summary_ms(health)}")
    finally:
        client.close()
        server.stop()


#: The message ``POST /api/v1/whatsapp/messages`` sends in the POST latency benchmark.
MESSAGE = {"to": "5511999999999", "type": "text", "text": "bench"}


def poster(base: str, token: str) -> Callable[[], Awaitable[str]]:
    """A trigger that posts :data:`MESSAGE` (in a thread, so the client keeps reading its
    sockets) and returns the arrival key of the message's ``queued`` event."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    async def trigger() -> str:
        response = await asyncio.to_thread(
            session.post, f"{base}/api/v1/whatsapp/messages", json=MESSAGE, timeout=10
        )
        response.raise_for_status()
        return f"{response.json()['message_id']}:queued"

    return trigger


async def latency(setup: Setup, workers: int, sockets: int, events: int, via_post: bool) -> None:
    """Cause ``events`` events one after another (a bus publish, or a message POST);
    their arrival latency on each of ``sockets``."""
    server = start_server(setup, workers)
    publish = get_bus(create_app(setup.env)).publish
    client = Client(stream_url(server.url, setup.token))
    post = poster(server.url, setup.token)
    try:
        await client.open(sockets)
        await client.until_all_subscribed(publish)
        per_socket: list[float] = []
        last_socket: list[float] = []
        missed = 0
        for _ in range(events):
            arrivals = await (client.deliver_via(post) if via_post else client.deliver(publish))
            per_socket.extend(arrivals)
            last_socket.append(max(arrivals, default=DELIVERY_TIMEOUT))
            missed += sockets - len(arrivals)
            await asyncio.sleep(0.05)
        cause = "POST /messages -> queued" if via_post else "bus publish"
        print(
            f"  latency ({cause}), {workers} worker(s), {sockets} sockets, {events} events: "
            f"each arrival {summary_ms(per_socket)}"
        )
        print(
            f"    arrival on the last socket of each event {summary_ms(last_socket)}; "
            f"missed {missed} of {events * sockets}"
        )
    finally:
        client.close()
        server.stop()


async def main(quick: bool) -> None:
    """Every benchmark, with 1 and 2 server processes."""
    capacity_sockets, latency_sockets, events = (1_000, 200, 10) if quick else (10_000, 1_000, 50)
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"file limit {raise_file_limit()}; preparing the database and an agent"
    )
    setup = prepare()
    for via_post in (False, True):
        for workers in (1, 2):
            await latency(setup, workers, latency_sockets, events, via_post)
    for workers in (1, 2):
        await capacity(setup, workers, capacity_sockets)
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")


def run(quick: bool = False) -> None:
    """Entry point for ``python -m bench ws``."""
    print("== WebSocket: /ws/whatsapp/ fan-out latency and capacity ==")
    asyncio.run(main(quick))
