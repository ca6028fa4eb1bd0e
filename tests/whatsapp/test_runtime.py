"""When a process runs a session runner, and the WhatsApp settings read from the environment."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade

from dxconnect import create_app
from dxconnect.settings import SettingsError, load_settings
from dxconnect.whatsapp.runtime import (
    ensure_runner,
    start_in_worker,
    stop_runner,
    use_driver_class,
)


def sqlite_app(tmp_path, **env: str):
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/rt.db", "REDIS_URL": "", **env})


def test_a_serving_process_starts_one_runner_and_keeps_it(tmp_path, driver):
    app = sqlite_app(tmp_path)
    use_driver_class(app, driver)
    with app.app_context():
        upgrade()
    try:
        runner = ensure_runner(app)
        assert runner is not None
        assert ensure_runner(app) is runner
    finally:
        stop_runner(app)
    assert not runner.lease.held


def test_no_runner_for_a_testing_app_or_with_whatsapp_runner_off(tmp_path, driver):
    testing = sqlite_app(tmp_path)
    testing.config["TESTING"] = True
    switched_off = sqlite_app(tmp_path, WHATSAPP_RUNNER="0")
    for app in (testing, switched_off):
        use_driver_class(app, driver)
        assert ensure_runner(app) is None


def test_the_gunicorn_hook_ignores_an_app_that_is_not_ours():
    def bare_app(environ, start_response):  # the benchmark's reference WSGI callable
        start_response("200 OK", [])
        return [b"{}"]

    start_in_worker(bare_app)  # must not fail on an app without our extensions


@pytest.mark.parametrize(
    ("name", "value"), [("MESSAGE_TTL_SECONDS", "0"), ("MESSAGE_TTL_SECONDS", "day"),
                        ("WHATSAPP_RUNNER", "sometimes")],
)  # fmt: skip
def test_bad_whatsapp_settings_stop_startup_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_whatsapp_settings_defaults():
    settings = load_settings({})
    assert (settings.message_ttl_seconds, settings.whatsapp_runner) == (86400, True)
