"""The plugin manager: listing, driver selection, autoload switch, plugin routes, CLI and API."""

from __future__ import annotations

import json

import pytest

from dxconnect import create_app
from dxconnect.plugins import (
    DEFAULT_PLUGINS,
    active_driver_class,
    available_drivers,
    available_sinks,
    get_plugins,
    plugin_manager,
    plugins_report,
)
from tests.conftest import bearer, obtain_tokens

pytestmark = pytest.mark.usefixtures("app")


def _by_name(app) -> dict[str, dict]:
    return {plugin["name"]: plugin for plugin in get_plugins(plugin_manager(app))}


def test_get_plugins_reports_shipped_drivers_and_built_in_sinks(app):
    plugins = _by_name(app)
    assert plugins["whatsapp_stub"] == {
        "name": "whatsapp_stub", "distribution": "dxconnect-whatsapp-stub", "version": "0.1.0",
        "builtin": False, "hooks": ["dxconnect_whatsapp_drivers"], "drivers": ["stub"], "sinks": [],
    }  # fmt: skip
    assert plugins["whatsapp_echo"]["drivers"] == ["echo"]
    for name, sink in zip(DEFAULT_PLUGINS, ("log", "webhook"), strict=True):
        assert plugins[name]["builtin"] is True and plugins[name]["sinks"] == [sink]
        assert plugins[name]["distribution"] == "dxconnect"


def test_whatsapp_driver_selects_the_driver_by_name(test_env):
    app = create_app({**test_env, "WHATSAPP_DRIVER": "echo"})
    assert active_driver_class(app).name == "echo"
    assert active_driver_class(app).__module__ == "dxconnect_whatsapp_echo"


def test_default_driver_is_the_stub(app):
    assert active_driver_class(app).name == "stub"


def test_disabled_autoload_loads_only_the_listed_modules(install_fake, test_env):
    install_fake("dxconnect-broken", "dxconnect_broken", "raise RuntimeError('never imported')\n")
    app = create_app(
        {**test_env, "DXCONNECT_DISABLE_PLUGIN_AUTOLOAD": "1",
         "DXCONNECT_PLUGINS": "dxconnect_whatsapp_echo", "WHATSAPP_DRIVER": "echo"}
    )  # fmt: skip
    plugins = _by_name(app)
    assert sorted(plugins) == sorted([*DEFAULT_PLUGINS, "dxconnect_whatsapp_echo"])
    assert plugins["dxconnect_whatsapp_echo"]["distribution"] == "dxconnect-whatsapp-echo"
    assert set(available_drivers(plugin_manager(app))) == {"echo"}


def test_a_module_both_listed_and_autoloaded_is_registered_once(test_env):
    app = create_app({**test_env, "DXCONNECT_PLUGINS": "dxconnect_whatsapp_echo"})
    names = [plugin["name"] for plugin in get_plugins(plugin_manager(app))]
    assert "whatsapp_echo" in names and "dxconnect_whatsapp_echo" not in names


def test_installed_sink_overrides_the_built_in_one_of_the_same_name(install_fake, make_app):
    install_fake(
        "dxconnect-better-log",
        "better_log",
        "from dxconnect.events.log_sink import LogSink\nfrom dxconnect.hookspecs import hookimpl\n\n"
        "class BetterLog(LogSink):\n    pass\n\n"
        "@hookimpl\ndef dxconnect_event_sinks():\n    return [BetterLog]\n",
    )
    app = make_app(EVENT_SINKS="log")
    assert available_sinks(plugin_manager(app))["log"].__name__ == "BetterLog"
    plugins = _by_name(app)
    assert plugins["better_log"]["sinks"] == ["log"]
    assert plugins["dxconnect.events.log_sink"]["sinks"] == []


def test_plugin_blueprints_and_startup_hook_are_wired_in(test_env):
    app = create_app({**test_env, "DXCONNECT_PLUGINS": "tests.route_plugin"})
    client = app.test_client()
    assert client.get("/route-plugin/hello").get_json() == {"hello": "olá"}
    unauthorized = client.post("/api/v1/route-plugin/events")
    assert unauthorized.status_code == 401
    assert unauthorized.get_json()["error"]["code"] == "UNAUTHORIZED"
    schema = client.get("/api/schema/").get_json()
    assert "/api/v1/route-plugin/events" in schema["paths"]
    hooks = _by_name(app)["tests.route_plugin"]["hooks"]
    assert hooks == ["dxconnect_blueprints", "dxconnect_startup"]


def test_readiness_reports_the_active_driver(test_env):
    app = create_app({**test_env, "WHATSAPP_DRIVER": "echo"})
    body = app.test_client().get("/api/v1/health/ready").get_json()
    assert body == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "driver": "echo"}}


def test_plugins_endpoint_needs_authentication(client):
    response = client.get("/api/v1/plugins/")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_plugins_endpoint_lists_driver_sinks_and_plugins_for_any_agent(app, client, make_agent):
    make_agent("ana")
    response = client.get("/api/v1/plugins", headers=bearer(obtain_tokens(client, "ana")["access"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["driver"] == "stub" and body["event_sinks"] == []
    assert body["plugins"] == get_plugins(plugin_manager(app))


def test_plugins_command_prints_a_table_and_json(make_app):
    app = make_app(EVENT_SINKS="log")
    runner = app.test_cli_runner()
    table = runner.invoke(args=["plugins"])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[:2] == ["driver: stub", "event sinks: log"]
    stub = next(line.split() for line in lines if line.startswith("whatsapp_stub"))
    assert stub == ["whatsapp_stub", "dxconnect-whatsapp-stub", "0.1.0", "stub", "-",
                    "dxconnect_whatsapp_drivers"]  # fmt: skip
    echo = next(line.split() for line in lines if line.startswith("whatsapp_echo"))
    assert echo[1:4] == ["dxconnect-whatsapp-echo", "0.1.0", "echo"]
    machine = runner.invoke(args=["plugins", "--json"])
    assert json.loads(machine.output) == json.loads(json.dumps(plugins_report(app)))
    assert json.loads(machine.output)["event_sinks"][0]["name"] == "log"
