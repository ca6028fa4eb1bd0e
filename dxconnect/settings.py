"""Environment -> one validated :class:`Settings` object.

Every knob of the service is an environment variable (12-factor). They are read
and validated once, when the app is created; a bad value raises
:class:`SettingsError` whose message is one line naming the variable, so the
process can stop with that line instead of a traceback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0000000000"
ENVIRONMENTS = ("development", "production")
_DB_URL_RE = re.compile(r"^(sqlite|postgres|postgresql)(\+\w+)?://")
_REDIS_URL_RE = re.compile(r"^(redis|rediss|unix)://")
_RATE_RE = re.compile(r"^\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?$")
_HTTP_URL_RE = re.compile(r"^https?://[^\s/]+")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A configuration value is missing or malformed; ``str()`` is one line naming it."""


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one app instance (see README, "Configuration")."""

    env: str = "development"
    secret_key: str = DEV_SECRET_KEY
    jwt_secret_key: str = DEV_SECRET_KEY
    access_token_seconds: int = 300
    refresh_token_seconds: int = 86400
    database_url: str = ""
    db_pool_size: int = 10
    redis_url: str | None = None
    redis_max_connections: int = 200
    cors_allowed_origins: tuple[str, ...] = ("http://localhost:5173",)
    login_rate_limit: str = "5 per minute"
    max_request_bytes: int = 3 * 1024 * 1024
    log_level: str = "INFO"
    proxy_count: int = 0
    migrations_dir: str = "migrations"
    whatsapp_driver: str = "stub"
    event_sinks: tuple[str, ...] = ()
    plugin_autoload: bool = True
    plugin_modules: tuple[str, ...] = ()
    webhook_url: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_timeout_seconds: int = 5
    webhook_max_attempts: int = 5
    webhook_backoff_ms: int = 1000
    field_encryption_keys: tuple[str, ...] = ()
    media_root: str = "instance/media"
    message_ttl_seconds: int = 86400
    whatsapp_runner: bool = True
    event_history_size: int = 10_000
    event_history_seconds: int = 86_400
    event_redelivery_seconds: int = 30
    metrics_token: str | None = field(default=None, repr=False)
    sentry_dsn: str | None = field(default=None, repr=False)

    @property
    def is_production(self) -> bool:
        """True when ``DXCONNECT_ENV=production``."""
        return self.env == "production"


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (_get(env, name) or default).lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _matching(
    env: Mapping[str, str], name: str, pattern: re.Pattern[str], expected: str
) -> str | None:
    value = _get(env, name)
    if value is not None and not pattern.match(value):
        raise SettingsError(f"{name} must be {expected}, got scheme {value.split(':', 1)[0]!r}")
    return value


def _secret(env: Mapping[str, str], name: str, fallback: str | None, production: bool) -> str:
    value = _get(env, name) or fallback
    if production and (value is None or value == DEV_SECRET_KEY):
        raise SettingsError(f"{name} must be set to a strong random value in production")
    if production and len(value or "") < 32:
        raise SettingsError(f"{name} must be at least 32 characters in production")
    return value or DEV_SECRET_KEY


def _csv(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None:
        return default
    if raw.lower() not in _TRUE + _FALSE:
        raise SettingsError(f"{name} must be 1 or 0 (true/false), got {raw!r}")
    return raw.lower() in _TRUE


def normalise_database_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` to the psycopg 3 driver SQLAlchemy uses."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def default_migrations_dir() -> str:
    """``migrations/`` beside the package in a source checkout, else in the working directory."""
    beside_package = Path(__file__).resolve().parent.parent / "migrations"
    return str(beside_package) if beside_package.is_dir() else str(Path.cwd() / "migrations")


def derive_development_key(secret_key: str) -> str:
    """The Fernet key used in development when ``FIELD_ENCRYPTION_KEYS`` is unset.

    It is derived from ``SECRET_KEY`` (SHA-256), so a development install keeps
    reading its secrets across restarts; production refuses to start without
    explicit keys.
    """
    digest = hashlib.sha256(b"dxconnect-field-encryption:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def _encryption_keys(env: Mapping[str, str], secret_key: str, production: bool) -> tuple[str, ...]:
    name = "FIELD_ENCRYPTION_KEYS"
    keys = _csv(env, name, ())
    if not keys and production:
        raise SettingsError(f"{name} must be set in production (comma-separated Fernet keys)")
    for position, key in enumerate(keys, start=1):
        if not _is_fernet_key(key):
            raise SettingsError(
                f"{name} key #{position} is not a Fernet key (32 url-safe base64-encoded bytes)"
            )
    return keys or (derive_development_key(secret_key),)


def load_settings(env: Mapping[str, str] | None = None, instance_path: str = "instance") -> Settings:
    """Read and validate every setting from ``env`` (default: ``os.environ``)."""
    env = os.environ if env is None else env
    environment = _choice(env, "DXCONNECT_ENV", "development", ENVIRONMENTS)
    production = environment == "production"
    secret_key = _secret(env, "SECRET_KEY", None, production)
    database_url = _matching(
        env, "DATABASE_URL", _DB_URL_RE, "a sqlite:// or postgresql:// URL"
    ) or "sqlite:///" + str(Path(instance_path) / "dxconnect.db")
    dev_origins = () if production else ("http://localhost:5173",)
    rate = _get(env, "LOGIN_RATE_LIMIT") or "5 per minute"
    if not _RATE_RE.match(rate):
        raise SettingsError(f"LOGIN_RATE_LIMIT must look like '5 per minute', got {rate!r}")
    return Settings(
        env=environment,
        secret_key=secret_key,
        jwt_secret_key=_secret(env, "JWT_SECRET_KEY", secret_key, production),
        access_token_seconds=_int(env, "JWT_ACCESS_TOKEN_SECONDS", 300, minimum=1),
        refresh_token_seconds=_int(env, "JWT_REFRESH_TOKEN_SECONDS", 86400, minimum=1),
        database_url=normalise_database_url(database_url),
        db_pool_size=_int(env, "DB_POOL_SIZE", 10, minimum=1),
        redis_url=_matching(env, "REDIS_URL", _REDIS_URL_RE, "a redis:// or rediss:// URL"),
        redis_max_connections=_int(env, "REDIS_MAX_CONNECTIONS", 200, minimum=1),
        cors_allowed_origins=_csv(env, "CORS_ALLOWED_ORIGINS", dev_origins),
        login_rate_limit=rate,
        max_request_bytes=_int(env, "MAX_REQUEST_BYTES", 3 * 1024 * 1024, minimum=1024),
        log_level=_choice(
            env, "LOG_LEVEL", "info", ("debug", "info", "warning", "error")
        ).upper(),
        proxy_count=_int(env, "TRUSTED_PROXY_COUNT", 0),
        migrations_dir=_get(env, "MIGRATIONS_DIR") or default_migrations_dir(),
        whatsapp_driver=(_get(env, "WHATSAPP_DRIVER") or "stub").lower(),
        event_sinks=tuple(name.lower() for name in _csv(env, "EVENT_SINKS", ())),
        plugin_autoload=not _flag(env, "DXCONNECT_DISABLE_PLUGIN_AUTOLOAD", False),
        plugin_modules=_csv(env, "DXCONNECT_PLUGINS", ()),
        webhook_url=_matching(env, "WEBHOOK_URL", _HTTP_URL_RE, "an http:// or https:// URL"),
        webhook_secret=_get(env, "WEBHOOK_SECRET"),
        webhook_timeout_seconds=_int(env, "WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1),
        webhook_max_attempts=_int(env, "WEBHOOK_MAX_ATTEMPTS", 5, minimum=1),
        webhook_backoff_ms=_int(env, "WEBHOOK_BACKOFF_MS", 1000),
        field_encryption_keys=_encryption_keys(env, secret_key, production),
        media_root=_get(env, "MEDIA_ROOT") or str(Path(instance_path) / "media"),
        message_ttl_seconds=_int(env, "MESSAGE_TTL_SECONDS", 86400, minimum=1),
        whatsapp_runner=_flag(env, "WHATSAPP_RUNNER", True),
        event_history_size=_int(env, "EVENT_HISTORY_SIZE", 10_000, minimum=1),
        event_history_seconds=_int(env, "EVENT_HISTORY_SECONDS", 86_400, minimum=1),
        event_redelivery_seconds=_int(env, "EVENT_REDELIVERY_SECONDS", 30, minimum=1),
        metrics_token=_get(env, "METRICS_TOKEN"),
        sentry_dsn=_get(env, "SENTRY_DSN"),
    )
