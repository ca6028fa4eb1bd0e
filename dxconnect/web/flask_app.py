"""The Flask class the factory builds: Flask without the per-request work an API does not use.

* No cookie session: the API authenticates with bearer tokens, so opening a
  signed-cookie session on every request (an ``itsdangerous`` serializer and
  a cookie parse) is pure cost. ``flask.session`` is a null session: reading
  it works, writing to it fails loudly.
* Flask asks ``inspect`` whether every hook and view is a coroutine on every
  request; a function's kind never changes, so the answer is remembered.
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask, Request
from flask.sessions import SessionInterface, SessionMixin


class NoSessionInterface(SessionInterface):
    """Never opens a cookie session (Flask then uses its null session)."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        """No session for any request."""
        return None

    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        """Nothing to save: the null session is never saved."""


class App(Flask):
    """``Flask`` with no cookie session and a remembered sync/async check per function."""

    session_interface = NoSessionInterface()

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._coroutine: dict[Callable[..., Any], bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's ``ensure_sync``, with the coroutine check done once per function.

        Bound methods are new objects on every access (a view class makes an
        instance per request), so they are remembered by their function.
        """
        key = getattr(func, "__func__", func)
        try:
            coroutine = self._coroutine[key]
        except KeyError:
            coroutine = self._coroutine[key] = iscoroutinefunction(func)
        except TypeError:  # unhashable callable: nothing to remember it by
            coroutine = iscoroutinefunction(func)
        return self.async_to_sync(func) if coroutine else func
