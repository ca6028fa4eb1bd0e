"""One WebSocket connection: whole frames only, never a wait in the fan-out, a slow-client guard.

Two things write to a socket: this module (events, answers, the closing frame)
and simple-websocket's reader, which answers protocol pings and closes.
:class:`SerializedSocket` makes every write a complete frame under a per-socket
lock, so frames never interleave (gevent's ``send`` may write only part of a
frame when the client reads slowly).

Events are fanned out by the bus's listener in a plain loop that must never
wait for one slow client. :meth:`Connection.push` writes a frame at once when
the socket is idle and has room (the common case: no queue, no greenlet
switch); otherwise the frame joins the connection's outbox, flushed by a writer
(a greenlet under gevent) that exists only while there is a backlog. A client
that falls :attr:`Connection.outbox_limit` frames behind is disconnected; it
reconnects with ``last_event_id`` and loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from simple_websocket import ConnectionClosed

log = logging.getLogger("dxconnect.realtime")

#: How long a finishing handler waits for its writer to flush (seconds).
FLUSH_TIMEOUT = 5.0


def text_frame(text: str) -> bytes:
    """A complete, final, unmasked text frame (what a server sends; RFC 6455 section 5.2)."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


class SerializedSocket:
    """A socket proxy: every write is one whole frame under the socket's lock."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        gevent_socket = type(sock).__module__.startswith("gevent")
        self._nowait_kwargs: dict[str, Any] = {"timeout": 0.0} if gevent_socket else {}

    def send(self, data: bytes) -> int:
        """Write all of ``data`` before any other frame (waits while the client is slow)."""
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    def try_send(self, data: bytes) -> bytes | None:
        """Write ``data`` without waiting. Returns what is left to write.

        ``None``: another write is in progress, nothing was written.
        ``b""``: all written. Anything else: only a part went out and the
        socket stays locked so nothing slips inside the frame — the caller
        must pass the rest to :meth:`send_rest`.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            sent = self._sock.send(data, socket.MSG_DONTWAIT, **self._nowait_kwargs)
        except BlockingIOError:
            sent = 0
        except BaseException:
            self._lock.release()
            raise
        if sent == 0:
            self._lock.release()
            return None
        if sent == len(data):
            self._lock.release()
            return b""
        return data[sent:]

    def send_rest(self, rest: bytes) -> None:
        """Finish a frame :meth:`try_send` started, then unlock the socket."""
        try:
            self._sock.sendall(rest)
        finally:
            self._lock.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@dataclass(frozen=True)
class _Rest:
    """The end of a frame already started; the socket is locked until it is written."""

    data: bytes


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Connection:
    """A server-side WebSocket (simple-websocket ``Server`` on a :class:`SerializedSocket`)."""

    def __init__(self, ws: Any, outbox_limit: int) -> None:
        self.ws = ws
        self.outbox_limit = outbox_limit
        #: ``(token id, agent id)`` once the client's token was accepted.
        self.owner: tuple[str, int] | None = None
        self._outbox: deque[bytes | _Rest | _Close] = deque()
        self._state = threading.Lock()
        self._writer: threading.Thread | None = None
        self._closing = False

    @property
    def open(self) -> bool:
        """True until the connection is closing or closed, from either side."""
        return self.ws.connected and not self._closing

    def push(self, frame: bytes) -> None:
        """Send one frame (see :func:`text_frame`) now if possible, else queue it; never waits."""
        with self._state:
            if self._closing:
                return
            if self._writer is None:
                rest = self._try_send(frame)
                if rest == b"":
                    return
                self._queue(frame if rest is None else _Rest(rest))
            elif len(self._outbox) >= self.outbox_limit:
                self._abort()
            else:
                self._outbox.append(frame)

    def close(self, code: int, reason: str) -> None:
        """Send the closing frame after what is queued; nothing is sent after it."""
        with self._state:
            if self._closing:
                return
            self._closing = True
            self._queue(_Close(code, reason))

    def finish(self) -> None:
        """The handler is done: drop new frames, let the writer flush (bounded wait)."""
        with self._state:
            self._closing = True
            writer = self._writer
        if writer is not None:
            writer.join(FLUSH_TIMEOUT)

    def _try_send(self, frame: bytes) -> bytes | None:
        try:
            return self.ws.sock.try_send(frame)
        except OSError:
            self._closing = True
            return b""

    def _queue(self, item: bytes | _Rest | _Close) -> None:
        """Append ``item`` and make sure a writer runs (caller holds ``_state``)."""
        self._outbox.append(item)
        if self._writer is None:
            self._writer = threading.Thread(target=self._write, name="dxconnect-ws-writer")
            self._writer.daemon = True
            self._writer.start()

    def _abort(self) -> None:
        """Cut a client that does not keep up; its writer fails and drops the outbox."""
        log.warning("disconnecting a WebSocket client that does not keep up")
        self._closing = True
        with contextlib.suppress(OSError):
            self.ws.sock.shutdown(socket.SHUT_RDWR)

    def _write(self) -> None:
        """Flush the outbox in order, then stop (a new writer starts with the next backlog)."""
        try:
            while True:
                with self._state:
                    if not self._outbox:
                        self._writer = None
                        return
                    item = self._outbox.popleft()
                if isinstance(item, _Rest):
                    self.ws.sock.send_rest(item.data)
                elif isinstance(item, _Close):
                    self.ws.close(item.code, item.reason)
                    self.ws.event.set()  # wake the handler blocked in receive()
                else:
                    self.ws.sock.send(item)
        except (ConnectionClosed, OSError):
            with self._state:
                self._closing = True
                self._outbox.clear()
                self._writer = None
