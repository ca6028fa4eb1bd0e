"""WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app`` or ``flask --app wsgi ...``.

A configuration error stops the process with one line naming the variable.
"""

import sys

from dxconnect import create_app
from dxconnect.settings import SettingsError

try:
    app = create_app()
except SettingsError as error:
    print(f"dxconnect: configuration error: {error}", file=sys.stderr)
    raise SystemExit(2) from None
