"""The plugin manager: default plugins, entry-point discovery, and the drivers and sinks they provide.

Built-in behaviour (the ``log`` and ``webhook`` sinks) is registered as
:data:`DEFAULT_PLUGINS` whose hooks are ``trylast``: an installed plugin that
provides the same name wins. Installed plugins come from the ``dxconnect``
entry-point group (off with ``DXCONNECT_DISABLE_PLUGIN_AUTOLOAD=1``) and from
the modules listed in ``DXCONNECT_PLUGINS``. Anything wrong with a plugin stops
startup with one :class:`PluginError` line naming the plugin and its distribution.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy
from flask import Flask, current_app
from flask_smorest import Blueprint as ApiBlueprint

from dxconnect import hookspecs
from dxconnect.events.dispatch import active_sinks, start_sinks
from dxconnect.events.sink import EventSink
from dxconnect.whatsapp.driver import WhatsAppDriver

ENTRY_POINT_GROUP = "dxconnect"
EXTENSION = "dxconnect.plugins"
DRIVER_EXTENSION = "dxconnect.driver"
#: Modules of built-in behaviour, registered as plugins before any installed one.
DEFAULT_PLUGINS = ("dxconnect.events.log_sink", "dxconnect.events.webhook_sink")


class PluginError(RuntimeError):
    """A plugin cannot be loaded or used; ``str()`` is one line naming the plugin."""


@dataclass(frozen=True)
class Origin:
    """Where a plugin comes from."""

    distribution: str | None = None
    version: str | None = None
    builtin: bool = False

    def label(self) -> str:
        """``distribution dxconnect-foo 1.0``, ``built in`` or ``no distribution``."""
        if self.builtin:
            return "built in"
        if self.distribution is None:
            return "no distribution"
        return f"distribution {self.distribution} {self.version}"


def _builtin_origin() -> Origin:
    try:
        return Origin("dxconnect", importlib.metadata.version("dxconnect"), builtin=True)
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return Origin(builtin=True)


class PluginManager(pluggy.PluginManager):
    """pluggy's manager for project ``dxconnect``, remembering each plugin's distribution."""

    def __init__(self) -> None:
        super().__init__("dxconnect")
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, Origin] = {}

    def describe(self, name: str) -> str:
        """``plugin 'name' (distribution dist 1.0)``, for error messages."""
        return f"plugin {name!r} ({self.origins.get(name, Origin()).label()})"

    def add(self, plugin: object, name: str, origin: Origin) -> None:
        """Register ``plugin`` as ``name``; a name clash or a bad hook signature is a PluginError.

        A module already registered (listed in ``DXCONNECT_PLUGINS`` and also an
        entry point) is left as it is.
        """
        if self.is_registered(plugin):
            return
        if name in self.origins:
            raise PluginError(
                f"two plugins are named {name!r}: {self.describe(name)} "
                f"and one from {origin.label()}"
            )
        self.origins[name] = origin
        try:
            self.register(plugin, name=name)
        except pluggy.PluginValidationError as error:
            raise PluginError(f"{self.describe(name)} has a bad hook: {_one_line(error)}") from None


def make_plugin_manager(*, autoload: bool = True, modules: Sequence[str] = ()) -> PluginManager:
    """A manager with the specs, :data:`DEFAULT_PLUGINS`, the entry points (when ``autoload``)
    and ``modules`` (imported by name)."""
    manager = PluginManager()
    builtin = _builtin_origin()
    for name in DEFAULT_PLUGINS:
        manager.add(importlib.import_module(name), name, builtin)
    if autoload:
        _load_entry_points(manager)
    for name in modules:
        origin = _module_origin(name)
        manager.add(
            _load(functools.partial(importlib.import_module, name), name, origin), name, origin
        )
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        name = manager.get_name(error.plugin) or "?"
        raise PluginError(f"{manager.describe(name)} has a bad hook: {_one_line(error)}") from None
    return manager


def available_drivers(manager: PluginManager) -> dict[str, type[WhatsAppDriver]]:
    """Every driver provided by a plugin, by name."""
    return {name: cls for name, (cls, _) in _provided(manager, "drivers").items()}


def available_sinks(manager: PluginManager) -> dict[str, type[EventSink]]:
    """Every event sink provided by a plugin, by name."""
    return {name: cls for name, (cls, _) in _provided(manager, "sinks").items()}


def get_plugins(manager: PluginManager) -> list[dict[str, Any]]:
    """Every plugin: name, distribution, version, builtin, hooks, and the drivers and sinks it provides."""
    provided = {kind: _provided(manager, kind) for kind in _KINDS}
    plugins = []
    for name, plugin in sorted(manager.list_name_plugin()):
        origin = manager.origins[name]
        plugins.append(
            {
                "name": name,
                "distribution": origin.distribution,
                "version": origin.version,
                "builtin": origin.builtin,
                "hooks": sorted(caller.name for caller in manager.get_hookcallers(plugin) or ()),
                **{
                    kind: sorted(
                        item for item, (_, owner) in provided[kind].items() if owner == name
                    )
                    for kind in _KINDS
                },
            }
        )
    return plugins


def init_app(app: Flask) -> None:
    """Load the plugins, resolve ``WHATSAPP_DRIVER`` and ``EVENT_SINKS``, add plugin routes,
    start the sinks and call ``dxconnect_startup``."""
    settings = app.config["DXCONNECT_SETTINGS"]
    manager = make_plugin_manager(
        autoload=settings.plugin_autoload, modules=settings.plugin_modules
    )
    app.extensions[EXTENSION] = manager
    drivers = _provided(manager, "drivers")
    if settings.whatsapp_driver not in drivers:
        raise PluginError(
            f"WHATSAPP_DRIVER={settings.whatsapp_driver!r} is not an installed driver; "
            f"installed drivers: {_listing(manager, drivers)}"
        )
    app.extensions[DRIVER_EXTENSION] = drivers[settings.whatsapp_driver][0]
    sinks = _provided(manager, "sinks")
    unknown = [name for name in settings.event_sinks if name not in sinks]
    if unknown:
        raise PluginError(
            f"EVENT_SINKS names {', '.join(map(repr, unknown))}, which no installed plugin "
            f"provides; available sinks: {_listing(manager, sinks)}"
        )
    _register_blueprints(app, manager)
    start_sinks(app, {name: cls for name, (cls, _) in sinks.items()})
    manager.hook.dxconnect_startup(app=app)


def plugin_manager(app: Flask | None = None) -> PluginManager:
    """The plugin manager of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]


def active_driver_class(app: Flask | None = None) -> type[WhatsAppDriver]:
    """The driver class ``WHATSAPP_DRIVER`` selected for ``app`` (default: the current app)."""
    return (app or current_app).extensions[DRIVER_EXTENSION]


def plugins_report(app: Flask | None = None) -> dict[str, Any]:
    """The active driver, the enabled sinks with this process's counters, and every plugin."""
    app = app or current_app
    return {
        "driver": active_driver_class(app).name,
        "event_sinks": [{"name": name, **w.stats} for name, w in active_sinks(app).items()],
        "plugins": get_plugins(plugin_manager(app)),
    }


#: Provided kind -> (hook, base class).
_KINDS: dict[str, tuple[str, type]] = {
    "drivers": ("dxconnect_whatsapp_drivers", WhatsAppDriver),
    "sinks": ("dxconnect_event_sinks", EventSink),
}


def _provided(manager: PluginManager, kind: str) -> dict[str, tuple[Any, str]]:
    """``name -> (class, plugin name)`` for one kind; installed plugins override built-in ones."""
    hook_name, base = _KINDS[kind]
    found: dict[str, tuple[Any, str]] = {}
    # get_hookimpls() lists trylast (built-in) implementations first; pluggy calls them last.
    for impl in reversed(getattr(manager.hook, hook_name).get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        for item in _results(manager, impl, base):
            previous = found.get(item.name)
            if previous is None:
                found[item.name] = (item, impl.plugin_name)
            elif not manager.origins[impl.plugin_name].builtin:
                if not manager.origins[previous[1]].builtin:
                    raise PluginError(
                        f"{kind[:-1]} name {item.name!r} is provided twice: by "
                        f"{manager.describe(previous[1])} and by {manager.describe(impl.plugin_name)}"
                    )
                found[item.name] = (item, impl.plugin_name)
    return found


def _results(manager: PluginManager, impl: pluggy.HookImpl, base: type) -> list[Any]:
    """What one implementation returns, checked: a list of named ``base`` subclasses."""
    hook_name = impl.function.__name__
    result = impl.function()
    if result is None:
        return []
    items = list(result) if isinstance(result, Iterable) else [result]
    for item in items:
        if not (isinstance(item, type) and issubclass(item, base) and getattr(item, "name", None)):
            raise PluginError(
                f"{manager.describe(impl.plugin_name)} returned {item!r} from {hook_name}, "
                f"which is not a {base.__name__} subclass with a name"
            )
    return items


def _listing(manager: PluginManager, provided: dict[str, tuple[Any, str]]) -> str:
    entries = [
        f"{name} ({manager.origins[owner].label()})"
        for name, (_, owner) in sorted(provided.items())
    ]
    return ", ".join(entries) or "none"


def _register_blueprints(app: Flask, manager: PluginManager) -> None:
    api = app.extensions["dxconnect.api"]
    for blueprints in manager.hook.dxconnect_blueprints(app=app):
        for blueprint in blueprints:
            if isinstance(blueprint, ApiBlueprint):
                api.register_blueprint(blueprint)
            else:
                app.register_blueprint(blueprint)


def _load_entry_points(manager: PluginManager) -> None:
    seen: set[str] = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        key = (name or "").lower().replace("_", "-")
        if key in seen:  # the same distribution found twice on sys.path: the first wins
            continue
        seen.add(key)
        for entry_point in dist.entry_points.select(group=ENTRY_POINT_GROUP):
            origin = Origin(name, dist.version)
            manager.add(_load(entry_point.load, entry_point.name, origin), entry_point.name, origin)


def _load(loader: Any, name: str, origin: Origin) -> object:
    try:
        return loader()
    except Exception as error:  # any import failure becomes one startup line
        raise PluginError(
            f"plugin {name!r} ({origin.label()}) failed to import: "
            f"{type(error).__name__}: {_one_line(error)}"
        ) from None


def _module_origin(module: str) -> Origin:
    top = module.split(".")[0]
    for dist_name in importlib.metadata.packages_distributions().get(top, []):
        return Origin(dist_name, importlib.metadata.version(dist_name))
    return Origin()


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
