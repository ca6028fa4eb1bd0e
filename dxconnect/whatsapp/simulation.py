"""Building blocks for drivers that simulate WhatsApp (the stub and echo plugins, test drivers).

:class:`Scheduler` runs callbacks on ``threading`` timers (greenlets under
gunicorn's gevent worker) and cancels them all at once; :class:`SimulatedDriver`
keeps the session status, emits events through the driver context, and walks
messages through their statuses with a configurable step delay.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dxconnect.whatsapp.driver import DriverContext, OutboundMessage, WhatsAppDriver

Step = Callable[[], object]


class Scheduler:
    """Ordered timer callbacks; after :meth:`cancel` returns, no pending callback runs."""

    def __init__(self) -> None:
        #: Held while a callback runs; re-entrant so a callback may call back into the driver.
        self.lock = threading.RLock()
        self._timers: set[threading.Timer] = set()
        self._generation = 0

    def chain(self, delay: float, steps: Sequence[Step]) -> None:
        """Run ``steps`` one after another, each ``delay`` seconds after the previous one."""
        if not steps:
            return
        first, rest = steps[0], steps[1:]

        def step() -> None:
            first()
            self.chain(delay, rest)

        self._later(delay, step)

    def cancel(self) -> None:
        """Drop every pending callback (waits for one that is running to finish)."""
        with self.lock:
            self._generation += 1
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()

    def _later(self, delay: float, callback: Step) -> None:
        with self.lock:
            generation = self._generation
            timer = threading.Timer(delay, lambda: self._run(timer, generation, callback))
            timer.daemon = True
            self._timers.add(timer)
        timer.start()

    def _run(self, timer: threading.Timer, generation: int, callback: Step) -> None:
        with self.lock:
            self._timers.discard(timer)
            if generation == self._generation:
                callback()


class SimulatedDriver(WhatsAppDriver):
    """A driver whose network is simulated: subclasses implement ``start_session`` and ``send_message``.

    ``start_session``/``stop_session`` report their first/last status before
    returning; later events come from the scheduler's timers, ``step_seconds`` apart.
    """

    #: Default delay between two simulated steps.
    step_seconds: float = 0.0

    def __init__(self, context: DriverContext, step_seconds: float | None = None) -> None:
        super().__init__(context)
        if step_seconds is not None:
            self.step_seconds = step_seconds
        self.scheduler = Scheduler()
        self._status = "disconnected"

    def status(self) -> str:
        """The current session status."""
        with self.scheduler.lock:
            return self._status

    def stop_session(self) -> None:
        """Cancel every pending step and report ``disconnected`` (once)."""
        with self.scheduler.lock:
            self.scheduler.cancel()
            if self._status != "disconnected":
                self.set_status("disconnected")

    def set_status(self, status: str) -> None:
        """Move the session to ``status`` and report it."""
        with self.scheduler.lock:
            self._status = status
            self.context.emit("session_status", {"status": status})

    def report(self, message_id: str, status: str, error: str | None = None) -> None:
        """Report a message status (``error`` only with ``failed``)."""
        fields: dict[str, Any] = {"message_id": message_id, "status": status}
        if error is not None:
            fields["error"] = error
        self.context.emit("message_status", fields)

    def steps(self, message_id: str, *statuses: str) -> list[Step]:
        """One step per status: each reports ``message_id`` reaching that status."""
        return [functools.partial(self.report, message_id, status) for status in statuses]

    def refused(self, message: OutboundMessage) -> bool:
        """Unless the session is ready: report ``failed`` one step later and return True."""
        if self.status() == "ready":
            return False
        self.walk(
            [functools.partial(self.report, message.message_id, "failed", "session is not ready")]
        )
        return True

    def walk(self, steps: Sequence[Step]) -> None:
        """Run ``steps`` in order, ``step_seconds`` apart (the first after one step)."""
        self.scheduler.chain(self.step_seconds, steps)

    def receive(self, sender: str, payload: Mapping[str, Any], prefix: str) -> str:
        """Report a ``message_received`` from ``sender``; returns its message id."""
        message_id = f"{prefix}-{uuid.uuid4().hex}"
        self.context.emit(
            "message_received",
            {
                "message_id": message_id,
                "from": sender,
                "chat_id": f"{sender}@c.us",
                "payload": dict(payload),
            },
        )
        return message_id
