"""Optional error reporting to Sentry: initialised only when ``SENTRY_DSN`` is set.

``sentry-sdk`` is an optional extra (``pip install dxconnect[sentry]``). The
unexpected exceptions the service answers with a 500 are logged with their
stack trace (:mod:`dxconnect.errors`); Sentry's logging integration sends
those records, and its Flask integration adds the request. Request bodies,
cookies and headers with credentials are not sent (``send_default_pii=False``).
"""

from __future__ import annotations

from flask import Flask

from dxconnect.settings import SettingsError

EXTENSION = "dxconnect.web.sentry"


def init_app(app: Flask) -> None:
    """Initialise Sentry when ``SENTRY_DSN`` is set; do nothing (import nothing) otherwise."""
    settings = app.config["DXCONNECT_SETTINGS"]
    if not settings.sentry_dsn:
        return
    try:
        import sentry_sdk
        from sentry_sdk.integrations.flask import FlaskIntegration
    except ImportError:
        raise SettingsError(
            "SENTRY_DSN is set but sentry-sdk is not installed (pip install dxconnect[sentry])"
        ) from None
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env,
        integrations=[FlaskIntegration()],
        send_default_pii=False,
    )
    app.extensions[EXTENSION] = sentry_sdk.get_client()
