"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app`` or ``flask --app wsgi ...``.

A configuration or plugin error stops the process with one line naming the
variable or the plugin (exit code 2).
"""

import sys

from dxconnect import create_app
from dxconnect.plugins import PluginError
from dxconnect.settings import SettingsError

try:
    app = create_app()
except (SettingsError, PluginError) as error:
    kind = "plugin" if isinstance(error, PluginError) else "configuration"
    print(f"dxconnect: {kind} error: {error}", file=sys.stderr)
    raise SystemExit(2) from None
