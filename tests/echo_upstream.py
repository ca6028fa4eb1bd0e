"""A real WebSocket + HTTP server that records what reaches it, to test what sits in front.

WebSocket connections behave like the contract's ``/ws/echo/``: ``{"type": "ping"}`` is
answered ``{"type": "pong"}``, any other JSON object ``{"echo": <it>}``. Plain HTTP requests
are answered 200 with the request headers as JSON.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from types import TracebackType
from typing import Self

from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve


class EchoUpstream:
    """``with EchoUpstream() as upstream: ... upstream.url, upstream.requests``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Headers]] = []
        self._server: Server | None = None

    def _record(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append((request.path, request.headers))
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        seen = {name.lower(): value for name, value in request.headers.raw_items()}
        return connection.respond(HTTPStatus.OK, json.dumps(seen))

    @staticmethod
    def _echo(connection: ServerConnection) -> None:
        for message in connection:
            payload = json.loads(message)
            answer = {"type": "pong"} if payload == {"type": "ping"} else {"echo": payload}
            connection.send(json.dumps(answer))

    def __enter__(self) -> Self:
        self._server = serve(self._echo, "127.0.0.1", 0, process_request=self._record)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.socket.getsockname()[1]}"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
