"""Every way a plugin can be wrong stops startup with one line naming the plugin and its distribution."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dxconnect import create_app
from dxconnect.plugins import PluginError
from dxconnect.settings import SettingsError
from tests.conftest import ROOT
from tests.plugin_dists import DRIVER_SOURCE

pytestmark = pytest.mark.usefixtures("app")


def _startup_error(test_env, error=PluginError, **overrides) -> str:
    with pytest.raises(error) as excinfo:
        create_app({**test_env, **overrides})
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_plugin_that_fails_to_import_is_named_with_its_distribution(install_fake, test_env):
    install_fake("dxconnect-broken", "dxconnect_broken", "import not_installed_anywhere\n")
    message = _startup_error(test_env)
    assert message.startswith(
        "plugin 'dxconnect_broken' (distribution dxconnect-broken 1.0.0) failed to import: "
        "ModuleNotFoundError"
    )
    assert "not_installed_anywhere" in message


def test_two_plugins_providing_one_driver_name_are_both_named(install_fake, test_env):
    install_fake("dxconnect-twin-a", "twin_a", DRIVER_SOURCE.format(name="twin"))
    install_fake("dxconnect-twin-b", "twin_b", DRIVER_SOURCE.format(name="twin"), version="2.0")
    message = _startup_error(test_env)
    assert message.startswith("driver name 'twin' is provided twice")
    assert "plugin 'twin_a' (distribution dxconnect-twin-a 1.0.0)" in message
    assert "plugin 'twin_b' (distribution dxconnect-twin-b 2.0)" in message


def test_an_installed_driver_may_not_take_a_shipped_driver_name(install_fake, test_env):
    install_fake("dxconnect-fake-stub", "fake_stub", DRIVER_SOURCE.format(name="stub"))
    message = _startup_error(test_env)
    assert "'whatsapp_stub' (distribution dxconnect-whatsapp-stub" in message
    assert "'fake_stub' (distribution dxconnect-fake-stub 1.0.0)" in message


SINK_SOURCE = """
from dxconnect.events.sink import EventSink
from dxconnect.hookspecs import hookimpl

class Sink(EventSink):
    name = "{name}"
    def deliver(self, event):
        pass

@hookimpl
def dxconnect_event_sinks():
    return [Sink]
"""


def test_two_plugins_providing_one_sink_name_are_both_named(install_fake, test_env):
    install_fake("dxconnect-sink-a", "sink_a", SINK_SOURCE.format(name="kafka"))
    install_fake("dxconnect-sink-b", "sink_b", SINK_SOURCE.format(name="kafka"))
    message = _startup_error(test_env)
    assert message.startswith("sink name 'kafka' is provided twice")
    assert "'sink_a' (distribution dxconnect-sink-a 1.0.0)" in message
    assert "'sink_b' (distribution dxconnect-sink-b 1.0.0)" in message


def test_wrong_hook_signature_is_named(install_fake, test_env):
    install_fake(
        "dxconnect-wrong",
        "dxconnect_wrong",
        "from dxconnect.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef dxconnect_whatsapp_drivers(session):\n    return []\n",
    )
    message = _startup_error(test_env)
    assert message.startswith(
        "plugin 'dxconnect_wrong' (distribution dxconnect-wrong 1.0.0) has a bad hook"
    )
    assert "session" in message and "dxconnect_whatsapp_drivers" in message


def test_misspelled_hook_is_named(install_fake, test_env):
    install_fake(
        "dxconnect-typo",
        "dxconnect_typo",
        "from dxconnect.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef dxconnect_whatsapp_driver():\n    return []\n",
    )
    message = _startup_error(test_env)
    assert message.startswith(
        "plugin 'dxconnect_typo' (distribution dxconnect-typo 1.0.0) has a bad hook"
    )
    assert "unknown hook 'dxconnect_whatsapp_driver'" in message


def test_hook_returning_something_else_than_a_driver_class_is_named(install_fake, test_env):
    install_fake(
        "dxconnect-odd",
        "dxconnect_odd",
        "from dxconnect.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef dxconnect_whatsapp_drivers():\n    return ['stub']\n",
    )
    message = _startup_error(test_env)
    assert message.startswith(
        "plugin 'dxconnect_odd' (distribution dxconnect-odd 1.0.0) returned 'stub'"
    )
    assert "not a WhatsAppDriver subclass" in message


def test_two_distributions_with_one_plugin_name_are_refused(install_fake, test_env, tmp_path):
    install_fake("dxconnect-first", "same_plugin", DRIVER_SOURCE.format(name="first"))
    other = tmp_path / "other.dist-info"
    other.mkdir()
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: dxconnect-other\nVersion: 3.0\n")
    (other / "entry_points.txt").write_text("[dxconnect]\nsame_plugin = json\n")
    sys.path.insert(0, str(tmp_path))
    try:
        message = _startup_error(test_env)
    finally:
        sys.path.remove(str(tmp_path))
    assert message.startswith("two plugins are named 'same_plugin'")
    assert "dxconnect-first 1.0.0" in message and "dxconnect-other 3.0" in message


def test_unknown_driver_lists_the_installed_drivers(test_env):
    message = _startup_error(test_env, WHATSAPP_DRIVER="baileys")
    assert message.startswith(
        "WHATSAPP_DRIVER='baileys' is not an installed driver; installed drivers: "
    )
    assert "echo (distribution dxconnect-whatsapp-echo 0.1.0)" in message
    assert "stub (distribution dxconnect-whatsapp-stub 0.1.0)" in message


def test_unknown_sink_lists_the_available_sinks(test_env):
    message = _startup_error(test_env, EVENT_SINKS="log,kafka")
    assert message.startswith("EVENT_SINKS names 'kafka', which no installed plugin provides")
    assert "log (built in)" in message and "webhook (built in)" in message


def test_webhook_sink_without_its_url_names_the_variable(test_env):
    message = _startup_error(test_env, SettingsError, EVENT_SINKS="webhook", WEBHOOK_SECRET="s")
    assert message == "WEBHOOK_URL is required when EVENT_SINKS includes webhook"


def test_disabled_autoload_leaves_only_built_in_plugins(test_env):
    message = _startup_error(test_env, DXCONNECT_DISABLE_PLUGIN_AUTOLOAD="1")
    assert message == "WHATSAPP_DRIVER='stub' is not an installed driver; installed drivers: none"


def test_plugin_errors_stop_the_process_with_one_line_and_exit_code_2(install_fake):
    site = install_fake("dxconnect-broken", "dxconnect_broken", "raise RuntimeError('boom')\n")
    env = {**os.environ, "PYTHONPATH": str(site), "DATABASE_URL": "sqlite:////tmp/unused.db"}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        "dxconnect: plugin error: plugin 'dxconnect_broken' (distribution dxconnect-broken 1.0.0) "
        "failed to import: RuntimeError: boom\n"
    )
