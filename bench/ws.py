"""WebSocket benchmarks on ``/ws/whatsapp/`` (gunicorn + gevent, Redis bus).

1. capacity: how many sockets the server holds, its resident memory per socket,
   and how long one event takes to reach all of them;
2. latency: from ``bus.publish`` in another process to arrival on every one of
   1,000 sockets (p50/p99), with 1 and with 2 server processes.

The client is one asyncio process (``websockets``) on the same host: it shares
the two cores with the server, so its own frame handling is in the figures.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field

import requests
import websockets

from bench.common import (
    Setup,
    prepare,
    raise_file_limit,
    rss_kib,
    start_server,
    summary_ms,
    worker_pids,
)
from dxconnect import create_app
from dxconnect.events.bus import get_bus
from dxconnect.events.envelope import make_event

#: Handshakes in flight at once while opening sockets.
OPEN_CONCURRENCY = 200
#: How long to wait for one event to reach every socket.
DELIVERY_TIMEOUT = 20.0


@dataclass
class Arrivals:
    """Arrival times of each event, by event id, as the client sees them."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    async def collect(self, ws: websockets.ClientConnection) -> None:
        """Record the arrival of every event frame on ``ws`` until it closes."""
        try:
            async for frame in ws:
                arrived = time.perf_counter()
                event_id = json.loads(frame).get("id")
                if event_id:
                    self.times[event_id].append(arrived)
        except websockets.ConnectionClosed:
            pass


class Client:
    """Many sockets on one stream URL, and the events they receive."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sockets: list[websockets.ClientConnection] = []
        self.arrivals = Arrivals()
        self._readers: list[asyncio.Task[None]] = []

    async def open(self, count: int) -> None:
        """Open ``count`` more sockets (a bounded number of handshakes at a time)."""
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)

        async def one() -> websockets.ClientConnection:
            async with gate:
                return await websockets.connect(
                    self.url, compression=None, ping_interval=None, open_timeout=120,
                    max_queue=None,
                )  # fmt: skip

        opened = await asyncio.gather(*(one() for _ in range(count)))
        self.sockets.extend(opened)
        self._readers.extend(asyncio.create_task(self.arrivals.collect(ws)) for ws in opened)

    async def deliver(self, publish: object, wait: float = DELIVERY_TIMEOUT) -> list[float]:
        """Publish one event; the latency of its arrival on each socket that got it in time."""
        event = make_event("session_status", {"status": "bench"})
        started = time.perf_counter()
        publish(event)  # type: ignore[operator]
        deadline = started + wait
        while len(self.arrivals.times[event["id"]]) < len(self.sockets):
            if time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.002)
        return [arrived - started for arrived in self.arrivals.times.pop(event["id"], [])]

    async def until_all_subscribed(self, publish: object) -> None:
        """Publish warm-up events until one reaches every socket (subscription is asynchronous)."""
        for _ in range(50):
            if len(await self.deliver(publish, wait=1.0)) == len(self.sockets):
                return
        raise RuntimeError("the warm-up event never reached every socket")

    async def close(self) -> None:
        """Close every socket."""
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for reader in self._readers:
            reader.cancel()


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
        pids = worker_pids(server.process.pid)
        before = rss_kib(pids)
        started = time.perf_counter()
        await client.open(sockets - 10)
        opened_in = time.perf_counter() - started
        await client.until_all_subscribed(publish)
        await asyncio.sleep(1)
        after = rss_kib(pids)
        fan_out = [await client.deliver(publish) for _ in range(5)]
        health = await asyncio.to_thread(health_latency, server.url)
        held = sum(1 for ws in client.sockets if ws.state is websockets.State.OPEN)
        print(f"  capacity, {workers} worker(s): {held} sockets held (opened in {opened_in:.1f} s); "
              f"workers' RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB, "
              f"{(after - before) / (sockets - 10):.1f} KiB per socket")  # fmt: skip
        print(f"    one event to all {held}: arrival on the last socket "
              f"{summary_ms([max(lat) for lat in fan_out])}; "
              f"missed {sum(held - len(lat) for lat in fan_out)} of {5 * held}")  # fmt: skip
        print(f"    GET /api/v1/health/ meanwhile: {summary_ms(health)}")
    finally:
        await client.close()
        server.stop()


async def latency(setup: Setup, workers: int, sockets: int, events: int) -> None:
    """Publish ``events`` events one after another; arrival latency on each of ``sockets``."""
    server = start_server(setup, workers)
    publish = get_bus(create_app(setup.env)).publish
    client = Client(stream_url(server.url, setup.token))
    try:
        await client.open(sockets)
        await client.until_all_subscribed(publish)
        per_socket: list[float] = []
        last_socket: list[float] = []
        missed = 0
        for _ in range(events):
            arrivals = await client.deliver(publish)
            per_socket.extend(arrivals)
            last_socket.append(max(arrivals, default=DELIVERY_TIMEOUT))
            missed += sockets - len(arrivals)
            await asyncio.sleep(0.05)
        print(f"  latency, {workers} worker(s), {sockets} sockets, {events} events: "
              f"each arrival {summary_ms(per_socket)}")  # fmt: skip
        print(f"    arrival on the last socket of each event {summary_ms(last_socket)}; "
              f"missed {missed} of {events * sockets}")  # fmt: skip
    finally:
        await client.close()
        server.stop()


async def main(quick: bool) -> None:
    """Both benchmarks, with 1 and 2 server processes."""
    capacity_sockets, latency_sockets, events = (1_000, 200, 10) if quick else (10_000, 1_000, 50)
    print(f"file limit {raise_file_limit()}; preparing database and agent")
    setup = prepare()
    for workers in (1, 2):
        await latency(setup, workers, latency_sockets, events)
    for workers in (1, 2):
        await capacity(setup, workers, capacity_sockets)


def run(quick: bool = False) -> None:
    """Entry point for ``python -m bench ws``."""
    print("== WebSocket: /ws/whatsapp/ fan-out latency and capacity ==")
    asyncio.run(main(quick))
