"""The production app with :class:`tests.whatsapp.support.RecordingDriver` as its driver.

Served by live servers in tests (``start_server(wsgi="tests.whatsapp.recording_wsgi:app")``);
``RECORDING_DRIVER_FILE``, ``RECORDING_DRIVER_READY_AFTER`` and
``RECORDING_RECONNECT_BACKOFF`` (seconds) tune it.
"""

import os

from dxconnect import create_app
from dxconnect.whatsapp.config import DEFAULTS
from dxconnect.whatsapp.runtime import use_driver_class, use_settings
from tests.whatsapp.support import RecordingDriver

app = create_app()
use_driver_class(app, RecordingDriver)
backoff = float(
    os.environ.get("RECORDING_RECONNECT_BACKOFF", DEFAULTS["reconnect_backoff_seconds"])
)
use_settings(app, lambda _app: {**DEFAULTS, "reconnect_backoff_seconds": backoff})
