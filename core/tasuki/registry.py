"""The plugin manager: entry-point discovery, fault isolation, and name clashes.

Plugins are found through the ``tasuki`` entry-point group and loaded lazily, the first
time something asks for the registry. A plugin that fails to import or to register is
recorded as broken (with its distribution, version and error) and everything else keeps
working. ``TASUKI_PLUGINS=a,b`` restricts which entry points load. Two registrations of
one name raise :class:`~tasuki.errors.PluginClashError` naming both distributions.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from tasuki import hookspecs
from tasuki.errors import PluginClashError, UnknownNameError

ENTRY_POINT_GROUP = "tasuki"
BUILTIN_PLUGINS = ("tasuki.builtin",)


@dataclass
class PluginInfo:
    """What ``tasuki plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    module: str = ""
    tasks: list[str] = field(default_factory=list)
    backbones: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None

    def label(self) -> str:
        return f"{self.distribution} {self.version} (plugin {self.name!r})"


@dataclass
class Registered:
    """A registered object and the plugin that registered it."""

    obj: Any
    plugin: PluginInfo


def get_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with tasuki's hook specifications and nothing registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


class Registry:
    """Tasks, backbones and plugins, collected once from every plugin.

    :param plugins: extra plugin objects (modules or instances with ``@hookimpl``
        functions), as ``(name, object)`` pairs; tests use this with ``entry_points=False``.
    :param entry_points: load the ``tasuki`` entry-point group (filtered by ``TASUKI_PLUGINS``).
    :param builtins: load the core's own registrations (the built-in backbones).
    """

    def __init__(
        self,
        plugins: Iterable[tuple[str, Any]] = (),
        *,
        entry_points: bool = True,
        builtins: bool = True,
    ) -> None:
        self.pm = get_plugin_manager()
        self.plugins: dict[str, PluginInfo] = {}
        self.tasks: dict[str, Registered] = {}
        self.backbones: dict[str, Registered] = {}
        if builtins:
            import importlib

            for module_name in BUILTIN_PLUGINS:
                self._add(module_name, importlib.import_module(module_name), _own_distribution())
        if entry_points:
            self._load_entry_points()
        for name, obj in plugins:
            self._add(name, obj, PluginInfo(name, distribution=_module_of(obj), version=""))
        self.pm.check_pending()
        self._collect()

    # --- loading -------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        wanted = _wanted_plugins()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if wanted is not None and ep.name not in wanted:
                continue
            dist = ep.dist
            info = PluginInfo(
                ep.name,
                distribution=dist.metadata["Name"] if dist else "?",
                version=dist.version if dist else "?",
                module=ep.value,
            )
            if ep.name in self.plugins:
                self.plugins[ep.name + "@" + info.distribution] = info
                info.error = f"another plugin is already named {ep.name!r}: {self.plugins[ep.name].label()}"
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                info.error = _describe(exc)
                self.plugins[ep.name] = info
                continue
            self._add(ep.name, obj, info)

    def _add(self, name: str, obj: Any, info: PluginInfo) -> None:
        info.module = info.module or _module_of(obj)
        self.plugins[name] = info
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # e.g. a hook with a misspelt argument
            info.error = _describe(exc)

    def _collect(self) -> None:
        """Call each plugin's hooks one plugin at a time, so that errors and names are attributed."""
        for impl in self.pm.hook.register_tasks.get_hookimpls():
            info = self.plugins[impl.plugin_name]
            self._call(impl, info, lambda task_cls, info=info: self._register_task(task_cls, info))
        for impl in self.pm.hook.register_backbones.get_hookimpls():
            info = self.plugins[impl.plugin_name]
            self._call(
                impl, info, lambda prefix, factory, info=info: self._register_backbone(prefix, factory, info)
            )

    def _call(self, impl: Any, info: PluginInfo, register: Any) -> None:
        if info.broken:
            return
        try:
            impl.function(register)
        except PluginClashError:
            raise
        except Exception as exc:
            info.error = _describe(exc)

    def _register_task(self, task_cls: Any, info: PluginInfo) -> None:
        name = getattr(task_cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{task_cls!r} has no 'name' class attribute")
        _claim(self.tasks, "task", name, task_cls, info)
        info.tasks.append(name)

    def _register_backbone(self, prefix: str, factory: Any, info: PluginInfo) -> None:
        _claim(self.backbones, "backbone", prefix, factory, info)
        info.backbones.append(prefix)

    # --- lookups -------------------------------------------------------------------------

    def task(self, name: str) -> Any:
        """The task class registered as ``name``; an unknown name lists the known ones."""
        if name in self.tasks:
            return self.tasks[name].obj
        known = ", ".join(sorted(self.tasks)) or "none: install a plugin, e.g. pip install tasuki-sentiment"
        broken = [p.label() for p in self.plugins.values() if p.broken]
        hint = f"; broken plugins (see 'tasuki plugins'): {', '.join(broken)}" if broken else ""
        raise UnknownNameError(f"unknown task {name!r}; known tasks: {known}{hint}")

    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.broken]

    def add_commands(self, cli: Any) -> None:
        """Let every healthy plugin add its CLI subcommands (errors mark the plugin broken)."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            info = self.plugins[impl.plugin_name]
            before = set(cli.commands)
            self._call(impl, info, cli)
            info.commands = sorted(set(cli.commands) - before)


def _claim(table: dict[str, Registered], kind: str, name: str, obj: Any, info: PluginInfo) -> None:
    if name in table and table[name].obj is not obj:
        raise PluginClashError(
            f"{kind} {name!r} is registered twice: by {table[name].plugin.label()} and by {info.label()}. "
            f"Uninstall one of them, or choose plugins with TASUKI_PLUGINS=name,name"
        )
    table[name] = Registered(obj, info)


def _wanted_plugins() -> set[str] | None:
    value = os.environ.get("TASUKI_PLUGINS", "").strip()
    if not value:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _describe(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _module_of(obj: Any) -> str:
    return obj.__name__ if isinstance(obj, ModuleType) else type(obj).__module__


def _own_distribution() -> PluginInfo:
    from tasuki import __version__

    return PluginInfo("builtin", distribution="tasuki", version=__version__)


_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry


def set_registry(registry: Registry | None) -> None:
    """Replace (or with ``None``, forget) the process-wide registry; tests use this."""
    global _registry
    _registry = registry
