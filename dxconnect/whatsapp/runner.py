"""The session runner: one per process; the one holding the lease drives the session.

Every round (:meth:`SessionRunner.tick`) the runner tries to take the lease.
The holder follows the desired state stored in the database (start or stop
the driver), restarts a failed or dropped session with exponential backoff
from ``reconnect_backoff_seconds``, fails messages past their TTL, hands
queued messages to the driver while it is ready, and passes development
injections on. A runner that takes the lease over from a dead holder first
fails what the dead holder had claimed but not handed over, then reconnects
after the backoff.

The loop runs in a thread (a greenlet under gevent's monkey patching),
started lazily after the fork by :mod:`dxconnect.whatsapp.runtime`; tests
call :meth:`tick` directly or start and stop the loop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from dxconnect.whatsapp import inbox, outbox, session
from dxconnect.whatsapp.context import CoreDriverContext
from dxconnect.whatsapp.driver import OutboundMessage, WhatsAppDriver
from dxconnect.whatsapp.lease import Lease

log = logging.getLogger("dxconnect.whatsapp")

SettingsProvider = Callable[[Flask], Mapping[str, Any]]
#: The longest wait between two reconnection attempts.
MAX_BACKOFF_SECONDS = 300.0


class SessionRunner:
    """Competes for the lease and, while holding it, drives the session and the outbox."""

    def __init__(
        self,
        app: Flask,
        driver_class: type[WhatsAppDriver],
        lease: Lease,
        settings_provider: SettingsProvider,
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 20,
    ) -> None:
        self.app = app
        self.driver_class = driver_class
        self.lease = lease
        self.settings_provider = settings_provider
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.driver: WhatsAppDriver | None = None
        self._context: CoreDriverContext | None = None
        self._was_active = False
        self._failures = 0
        self._next_start = 0.0
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run :meth:`tick` every ``poll_seconds`` (or when woken) until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, name="whatsapp-runner", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run the next round now (e.g. a message was just queued in this process)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop, discard the driver and release the lease.

        A round in progress finishes the send under way and gives the rest of
        its claimed batch back to the queue, for the next lease holder.
        """
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._let_go()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # a failing round (database down...) must not end the loop
                log.exception("whatsapp runner round failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    # -- one round --------------------------------------------------------------------------

    def tick(self) -> None:
        """One round: hold the lease, follow the desired state, expire, dispatch, inject."""
        if not self._hold_lease():
            return
        with self.app.app_context():
            running = session.desired_state() == session.RUNNING
            self._follow(running)
            ttl = self.app.config["DXCONNECT_SETTINGS"].message_ttl_seconds
            outbox.expire_stale(ttl)
            if running and self._ready():
                self._dispatch(ttl)
                self._inject()

    def _hold_lease(self) -> bool:
        if self.lease.held:
            if self.lease.alive():
                return True
            log.warning("whatsapp lease lost; no longer driving the session")
            self._discard_driver()
            return False
        if not self.lease.acquire():
            return False
        log.info("whatsapp lease taken", extra={"holder": self.holder})
        with self.app.app_context():
            outbox.fail_interrupted()
            if session.take_over(self.holder):
                self._next_start = time.monotonic() + self._backoff()
        return True

    def _ready(self) -> bool:
        return self.driver is not None and self.driver.status() == "ready"

    # -- the driver -------------------------------------------------------------------------

    def _follow(self, running: bool) -> None:
        if not running:
            self._discard_driver(report_stop=True)
            self._failures = 0
            self._next_start = 0.0
            return
        if self.driver is not None:
            self._watch_driver()
        if self.driver is None and time.monotonic() >= self._next_start:
            self._start_driver()

    def _watch_driver(self) -> None:
        status = self.driver.status()  # type: ignore[union-attr]
        if status in session.ACTIVE:
            self._was_active = True
        if status == "ready":
            self._failures = 0
        dropped = status == "disconnected" and self._was_active
        if status == "failed" or dropped:
            log.warning("whatsapp session %s; reconnecting after backoff", status)
            self._discard_driver()
            self._schedule_retry()

    def _start_driver(self) -> None:
        self._context = CoreDriverContext(self.app, self.settings_provider(self.app))
        self._was_active = False
        try:
            self.driver = self.driver_class(self._context)
            self.driver.start_session()
            self._was_active = self.driver.status() in session.ACTIVE
        except Exception as exc:  # a driver failing to start is a failed session, not a crash
            log.exception("whatsapp driver failed to start")
            self._discard_driver()
            self._schedule_retry()
            session.apply_driver_status("failed", _describe(exc))

    def _discard_driver(self, *, report_stop: bool = False) -> None:
        """Stop and forget the driver; its context then ignores whatever it reports.

        With ``report_stop`` (a requested stop) what the driver reports while
        stopping (``disconnected``) is still stored and published.
        """
        driver, context = self.driver, self._context
        self.driver, self._context = None, None
        if context is not None and not report_stop:
            context.close()
        if driver is not None:
            try:
                driver.stop_session()
            except Exception:
                log.exception("whatsapp driver failed to stop")
        if context is not None:
            context.close()

    def _backoff(self) -> float:
        base = float(self.settings_provider(self.app).get("reconnect_backoff_seconds", 5))
        return min(base * 2 ** max(self._failures - 1, 0), max(base, MAX_BACKOFF_SECONDS))

    def _schedule_retry(self) -> None:
        self._failures += 1
        self._next_start = time.monotonic() + self._backoff()

    def _let_go(self) -> None:
        self._discard_driver()
        self.lease.release()

    # -- messages ---------------------------------------------------------------------------

    def _dispatch(self, ttl: int) -> None:
        while not self._stopping.is_set():
            batch = outbox.claim_batch(self.batch_size, ttl)
            if not batch:
                return
            for index, message in enumerate(batch):
                if self._stopping.is_set() or not self._ready():
                    outbox.release_claims(batch[index:])
                    return
                self._send(message)

    def _send(self, message: OutboundMessage) -> None:
        try:
            self.driver.send_message(message)  # type: ignore[union-attr]
        except Exception as exc:  # the driver's failure is the message's failure
            log.warning(
                "whatsapp driver failed to send",
                extra={"message_id": message.message_id},
                exc_info=True,
            )
            outbox.apply_status(message.message_id, "failed", _describe(exc))
            return
        outbox.apply_status(message.message_id, "sent")

    def _inject(self) -> None:
        for sender, payload in inbox.take_injections():
            try:
                self.driver.inject_inbound(sender, payload)  # type: ignore[union-attr]
            except Exception:
                log.exception("whatsapp driver failed to inject an inbound message")


def _describe(exc: Exception) -> str:
    """A one-line description of a driver's exception (its type and message)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
