"""The production app with :class:`tests.whatsapp.support.RecordingDriver` as its driver.

Served by live servers in tests (``start_server(wsgi="tests.whatsapp.recording_wsgi:app")``);
``RECORDING_DRIVER_FILE``, ``RECORDING_DRIVER_READY_AFTER``, ``RECORDING_DRIVER_SEND_DELAY`` and
``RECORDING_RECONNECT_BACKOFF`` (seconds) tune it.
"""

import os

from dxconnect import create_app
from dxconnect.whatsapp.config import whatsapp_settings
from dxconnect.whatsapp.runtime import use_driver_class, use_settings
from tests.whatsapp.support import RecordingDriver

app = create_app()
use_driver_class(app, RecordingDriver)
backoff = os.environ.get("RECORDING_RECONNECT_BACKOFF")
use_settings(
    app,
    lambda app_: {
        **whatsapp_settings(app_),
        **({"reconnect_backoff_seconds": float(backoff)} if backoff else {}),
    },
)
