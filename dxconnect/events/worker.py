"""One queue and one thread per sink: the isolation that keeps sinks from hurting each other.

The bus calls :meth:`SinkWorker.submit`, which only enqueues (it never blocks
the publisher). The worker thread delivers, schedules retries with the sink's
backoff, and hands events that exhausted their attempts to a dead-letter
callback. Under gunicorn's gevent worker, threads are greenlets.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from dxconnect.events.sink import EventSink, PermanentSinkFailure
from dxconnect.metrics.instruments import SINK_EVENTS

log = logging.getLogger("dxconnect.events.sinks")

#: Events waiting for one sink; past this, new events are dropped (and counted).
QUEUE_SIZE = 10_000
#: Counters every worker keeps.
COUNTERS = ("delivered", "retried", "failed", "dropped", "skipped")

Event = dict[str, Any]
#: ``claim(sink_name, event_id)`` -> True when this process should deliver the event.
Claim = Callable[[str, str], bool]
#: ``dead_letter(sink_name, event, error, attempts)`` stores an undeliverable event.
DeadLetterStore = Callable[[str, Event, str, int], None]

_STOP = object()


class SinkWorker:
    """Feeds one :class:`EventSink` from its own bounded queue and thread."""

    def __init__(
        self,
        sink: EventSink,
        *,
        claim: Claim | None = None,
        dead_letter: DeadLetterStore | None = None,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.sink = sink
        self._claim = claim
        self._dead_letter = dead_letter
        self._queue: queue.Queue[Any] = queue.Queue(queue_size)
        self._retries: list[tuple[float, int, Event, int, str]] = []
        self._sequence = itertools.count()
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def stats(self) -> dict[str, int]:
        """This process's counters: delivered, retried, failed (dead-lettered), dropped, skipped."""
        with self._lock:
            return {name: self._counts[name] for name in COUNTERS}

    def submit(self, event: Event) -> None:
        """Queue ``event`` for the sink without ever blocking (a full queue drops it)."""
        if self._closed:
            return
        self._start()
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._count("dropped")
            log.error("sink queue full, event dropped", extra=self._where(event))

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the queued events; pending retries become dead letters."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP, timeout=timeout)
            thread.join(timeout)
        self.sink.close()

    def _start(self) -> None:
        # Lazily, so no thread exists before a gunicorn fork.
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"dxconnect-sink-{self.sink.name}", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            wait = max(0.0, self._retries[0][0] - time.monotonic()) if self._retries else None
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._abandon_retries()
                return
            if item is not None and self._claimed(item):
                self._attempt(item, 1)
            self._run_due_retries()

    def _claimed(self, event: Event) -> bool:
        if self._claim is None:
            return True
        try:
            claimed = self._claim(self.sink.name, str(event.get("id")))
        except Exception:  # noqa: BLE001 (an unreachable claim store must not lose the event)
            log.warning("sink claim failed; delivering anyway", extra=self._where(event))
            return True
        if not claimed:
            self._count("skipped")
        return claimed

    def _run_due_retries(self) -> None:
        while self._retries and self._retries[0][0] <= time.monotonic():
            _, _, event, attempt, _ = heapq.heappop(self._retries)
            self._attempt(event, attempt)

    def _attempt(self, event: Event, attempt: int) -> None:
        try:
            self.sink.deliver(event)
        except Exception as exc:  # noqa: BLE001 (every sink failure is contained here)
            self._failed(event, attempt, exc)
        else:
            self._count("delivered")

    def _failed(self, event: Event, attempt: int, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if isinstance(exc, PermanentSinkFailure) or attempt >= self.sink.max_attempts:
            self._give_up(event, error, attempt)
            return
        self._count("retried")
        log.warning(
            "sink delivery failed, will retry",
            extra={**self._where(event), "attempt": attempt, "error": error},
        )
        due = time.monotonic() + self.sink.retry_delay(attempt)
        heapq.heappush(self._retries, (due, next(self._sequence), event, attempt + 1, error))

    def _abandon_retries(self) -> None:
        for _, _, event, attempt, error in self._retries:
            self._give_up(event, f"shut down before retry; last error: {error}", attempt - 1)
        self._retries.clear()

    def _give_up(self, event: Event, error: str, attempts: int) -> None:
        self._count("failed")
        log.error(
            "sink delivery failed for good",
            extra={**self._where(event), "attempts": attempts, "error": error},
        )
        if self._dead_letter is None:
            return
        try:
            self._dead_letter(self.sink.name, event, error, attempts)
        except Exception:  # the dead-letter store is down: the log line above remains
            log.exception("dead letter could not be stored", extra=self._where(event))

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1
        SINK_EVENTS.labels(self.sink.name, name).inc()

    def _where(self, event: Event) -> dict[str, Any]:
        return {"sink": self.sink.name, "event_id": event.get("id")}
