"""The application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from dxconnect import metrics, plugins, realtime, redis_client
from dxconnect.accounts import auth_cache, throttle, tokens
from dxconnect.api import agents, auth, authz, config, health, me, whatsapp
from dxconnect.api import plugins as plugins_api
from dxconnect.cli import register_commands
from dxconnect.configuration import crypto, media
from dxconnect.errors import EnvelopeApi, register_error_handlers
from dxconnect.events import bus
from dxconnect.extensions import cors, db, migrate, sock
from dxconnect.settings import Settings, load_settings
from dxconnect.web import docs, log, sentry
from dxconnect.web.flask_app import App
from dxconnect.web.request_edge import RequestEdge
from dxconnect.web.request_rules import init_app as init_request_rules
from dxconnect.whatsapp import runtime as whatsapp_runtime

BLUEPRINTS = (
    health.blp,
    auth.blp,
    me.blp,
    authz.blp,
    agents.blp,
    config.blp,
    plugins_api.blp,
    whatsapp.blp,
)


def create_app(config: Mapping[str, str] | None = None) -> Flask:
    """Build the app from the environment; ``config`` overrides environment variables.

    Raises :class:`dxconnect.settings.SettingsError` (one line naming the
    variable) when a setting is missing or malformed.
    """
    app = App("dxconnect", instance_relative_config=True, static_folder=None)
    app.url_map.strict_slashes = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  (UTF-8 byte for byte)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    env = _environment(config)
    settings = load_settings(env, instance_path=app.instance_path)
    _configure(app, settings)

    app.wsgi_app = RequestEdge(app.wsgi_app)  # type: ignore[method-assign]
    log.init_app(app)
    sentry.init_app(app)
    metrics.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=settings.migrations_dir)
    tokens.init_app(app)
    crypto.init_app(app)
    media.init_app(app)
    redis_client.init_app(app)
    auth_cache.init_app(app)
    throttle.init_app(app)
    bus.init_app(app)
    cors.init_app(app)
    sock.init_app(app)
    realtime.init_app(app)
    init_request_rules(app)
    api = EnvelopeApi(app)
    app.extensions["dxconnect.api"] = api
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    docs.init_app(app)
    register_error_handlers(app)
    register_commands(app)
    plugins.init_app(app)
    whatsapp_runtime.init_app(app)
    return app


def _environment(config: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(config or {})
    return env


def _configure(app: Flask, settings: Settings) -> None:
    app.config.update(
        DXCONNECT_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        CORS_ORIGINS=list(settings.cors_allowed_origins),
        CORS_EXPOSE_HEADERS=["X-Request-Id", "Retry-After"],
        CORS_SUPPORTS_CREDENTIALS=False,
        CORS_ALWAYS_SEND=False,  # CORS headers only for requests that carry an Origin
        **docs.openapi_config(),
    )
    if settings.proxy_count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count
        )
    if settings.database_url.startswith("sqlite:///"):
        os.makedirs(app.instance_path, exist_ok=True)


def _engine_options(settings: Settings) -> dict[str, object]:
    if settings.database_url.startswith("sqlite"):
        return {}
    # No pre-ping (a round trip per checkout): a connection found dead answers 503 once and
    # SQLAlchemy then replaces the whole pool (see errors.handle_database_error).
    return {"pool_size": settings.db_pool_size, "max_overflow": 10}
