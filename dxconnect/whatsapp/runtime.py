"""Per-app WhatsApp state: the active driver class, the settings source and this process's runner.

Nothing starts at import or in :func:`init_app` (gunicorn forks after
importing the app): each worker starts its runner after the fork, from
gunicorn's ``post_worker_init`` hook (``gunicorn.conf.py``); another server
would call :func:`ensure_runner` once per process. No runner starts with
``WHATSAPP_RUNNER=0`` (processes that must not drive the session) nor for a
testing app: tests start runners explicitly (:func:`start_runner`) and stop
them (:func:`stop_runner`).
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass, field

from flask import Flask, current_app

from dxconnect.extensions import db
from dxconnect.plugins import active_driver_class
from dxconnect.whatsapp.config import whatsapp_settings
from dxconnect.whatsapp.driver import WhatsAppDriver
from dxconnect.whatsapp.lease import AdvisoryLease, FileLease, Lease
from dxconnect.whatsapp.outbox_writer import OutboxWriter
from dxconnect.whatsapp.runner import SessionRunner, SettingsProvider

EXTENSION = "dxconnect.whatsapp"


@dataclass
class WhatsAppRuntime:
    """What one app knows about WhatsApp in this process."""

    outbox_writer: OutboxWriter
    driver_class: type[WhatsAppDriver] | None = None
    settings_provider: SettingsProvider = whatsapp_settings
    runner: SessionRunner | None = None
    runner_pid: int | None = None
    start_lock: threading.Lock = field(default_factory=threading.Lock)


def _runtime(app: Flask | None = None) -> WhatsAppRuntime:
    return (app or current_app).extensions[EXTENSION]


def init_app(app: Flask) -> None:
    """Attach the runtime (no runner and no outbox writer starts here)."""
    app.extensions[EXTENSION] = WhatsAppRuntime(outbox_writer=OutboxWriter(app))


def use_driver_class(app: Flask, driver_class: type[WhatsAppDriver]) -> None:
    """Make ``driver_class`` the active driver of ``app`` (embedding, tests)."""
    _runtime(app).driver_class = driver_class


def use_settings(app: Flask, provider: SettingsProvider) -> None:
    """Read the WhatsApp settings of ``app`` from ``provider`` (embedding, tests)."""
    _runtime(app).settings_provider = provider


def driver_class(app: Flask | None = None) -> type[WhatsAppDriver]:
    """The active driver: the one set with :func:`use_driver_class`, else ``WHATSAPP_DRIVER``'s."""
    return _runtime(app).driver_class or active_driver_class(app)


def outbox_writer(app: Flask | None = None) -> OutboxWriter:
    """The writer that stores the messages this app accepts (:mod:`.outbox_writer`)."""
    return _runtime(app).outbox_writer


def make_lease(app: Flask) -> Lease:
    """An advisory lock on PostgreSQL; on SQLite a file lock beside the database file."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLease(url)
    database = url.database if url.database not in (None, "", ":memory:") else None
    return FileLease(f"{database}.whatsapp-lease" if database else _memory_lease_path(app))


def _memory_lease_path(app: Flask) -> str:
    os.makedirs(app.instance_path, exist_ok=True)
    return os.path.join(app.instance_path, "whatsapp.lease")


def start_runner(app: Flask, **options: float) -> SessionRunner:
    """Create and start a runner for ``app`` in this process (``options``: poll_seconds...)."""
    runner = SessionRunner(
        app, driver_class(app), make_lease(app), _runtime(app).settings_provider, **options
    )
    runner.start()
    return runner


def ensure_runner(app: Flask) -> SessionRunner | None:
    """Start this process's runner once (unless testing or disabled); return it."""
    runtime = _runtime(app)
    enabled = app.config["DXCONNECT_SETTINGS"].whatsapp_runner and not app.testing
    if not enabled or runtime.runner_pid == os.getpid():
        return runtime.runner
    with runtime.start_lock:
        if runtime.runner_pid != os.getpid():
            runtime.runner = start_runner(app)
            runtime.runner_pid = os.getpid()
            atexit.register(runtime.runner.stop)
    return runtime.runner


def _ours(wsgi_app: object) -> bool:
    return isinstance(wsgi_app, Flask) and EXTENSION in wsgi_app.extensions


def start_in_worker(wsgi_app: object) -> None:
    """gunicorn's ``post_worker_init``: start the runner when the served app is ours."""
    if _ours(wsgi_app):
        ensure_runner(wsgi_app)  # type: ignore[arg-type]


def stop_in_worker(wsgi_app: object) -> None:
    """gunicorn's SIGTERM and ``worker_exit``: stop the runner when the served app is ours.

    What it claimed but did not hand to the driver goes back to the queue.
    """
    if _ours(wsgi_app):
        stop_runner(wsgi_app)  # type: ignore[arg-type]


def stop_runner(app: Flask) -> None:
    """Stop this process's runner, if one runs."""
    runtime = _runtime(app)
    if runtime.runner is not None:
        runtime.runner.stop()
    runtime.runner, runtime.runner_pid = None, None


def wake_runner(app: Flask | None = None) -> None:
    """Have this process's runner (if any) run its next round now."""
    runner = _runtime(app).runner
    if runner is not None and _runtime(app).runner_pid == os.getpid():
        runner.wake()
