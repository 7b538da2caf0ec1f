"""The plugin manager: entry-point discovery, fault isolation, and name clashes.

Plugins are found through the ``tasuki`` entry-point group and loaded lazily, the first
time something asks for the registry. A plugin that fails to import or to register is
recorded as broken (with its distribution, version and error) and everything else keeps
working. ``TASUKI_PLUGINS=a,b`` restricts which entry points load (an unknown name there is an
error). Two registrations of one name are isolated like a broken plugin: the name is withdrawn,
asking for it raises :class:`~tasuki.errors.PluginClashError` naming both distributions, and
every other task keeps working. Presets (:mod:`tasuki.presets`) are registered as tasks once all tasks are in.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from tasuki import hookspecs
from tasuki.errors import PluginClashError, TasukiError, UnknownNameError
from tasuki.hook_checks import call_by_name, check_returned, check_task_class, unknown_hooks
from tasuki.presets import resolve_preset

if TYPE_CHECKING:
    from tasuki.backbone import Backbone

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
    presets: list[str] = field(default_factory=list)  # also in Registry.tasks
    backbones: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    """Paths of the serve routes it registered (collected when a server is built)."""
    clashes: list[str] = field(default_factory=list)
    """Names this plugin registered that another plugin registered too (withdrawn from both)."""
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
        self._routes: dict[str, Registered] | None = None
        self.clashes: dict[str, str] = {}
        """``{name: message}`` for names two plugins registered: withdrawn, reported when asked for."""
        if builtins:
            import importlib

            for module_name in BUILTIN_PLUGINS:
                self._add(module_name, importlib.import_module(module_name), _own_distribution())
        if entry_points:
            self._load_entry_points()
        for name, obj in plugins:
            self._add(name, obj, PluginInfo(name, distribution=_module_of(obj), version=""))
        for name, message in unknown_hooks(self.pm).items():  # one plugin's typo, not every command's traceback
            self.plugins[name].error = self.plugins[name].error or message
        self._collect()

    # --- loading -------------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        wanted = _wanted_plugins()
        found = list(entry_points(group=ENTRY_POINT_GROUP))
        if wanted is not None:
            unknown = sorted(wanted - {ep.name for ep in found})
            if unknown:
                raise UnknownNameError(
                    f"TASUKI_PLUGINS names {', '.join(map(repr, unknown))}, which no installed distribution provides; "
                    f"installed plugins: {', '.join(sorted({ep.name for ep in found})) or 'none'}"
                )
        for ep in found:
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
            self._call(impl, info, register=lambda task_cls, info=info: self._register_task(task_cls, info))
        for impl in self.pm.hook.register_backbones.get_hookimpls():
            info = self.plugins[impl.plugin_name]
            self._call(
                impl, info, register=lambda prefix, factory, info=info: self._register_backbone(prefix, factory, info)
            )
        for impl in self.pm.hook.register_presets.get_hookimpls():  # after every plugin's tasks: any may be a base
            info = self.plugins[impl.plugin_name]
            self._call(impl, info, register=lambda preset, info=info: self._register_preset(preset, info))

    def _call(self, impl: pluggy.HookImpl, info: PluginInfo, **arguments: Any) -> None:
        """Call one plugin's hook implementation (see :func:`call_by_name`); an error marks the plugin broken."""
        if info.broken:
            return
        try:
            check_returned(impl, call_by_name(impl, **arguments))
        except Exception as exc:
            info.error = str(exc) if isinstance(exc, TasukiError) else _describe(exc)  # a TasukiError is one line

    def _register_task(self, task_cls: Any, info: PluginInfo) -> None:
        check_task_class(task_cls)
        if self._claim(self.tasks, "task", task_cls.name, task_cls, info):
            info.tasks.append(task_cls.name)

    def _register_preset(self, preset: Any, info: PluginInfo) -> None:
        """Build the preset's class on its base task (or raise the line that says why not); claim it like a task."""
        task_cls = resolve_preset(preset, self.tasks, self.clashes, info.module.partition(":")[0])
        if self._claim(self.tasks, "task", preset.name, task_cls, info):
            info.presets.append(preset.name)

    def _register_backbone(self, prefix: str, factory: Any, info: PluginInfo) -> None:
        if self._claim(self.backbones, "backbone", prefix, factory, info):
            info.backbones.append(prefix)

    def _claim(self, table: dict[str, Registered], kind: str, name: str, obj: Any, info: PluginInfo) -> bool:
        """Register ``name``; a second claimant withdraws it from both (no silent override)."""
        key = f"{kind} {name}"
        if key in self.clashes:
            self.clashes[key] += f" and by {info.label()}"
            info.clashes.append(self.clashes[key])
            return False
        if name in table and table[name].obj is not obj:
            first = table.pop(name).plugin
            self.clashes[key] = f"{kind} {name!r} is registered twice: by {first.label()} and by {info.label()}"
            for claimant in (first, info):
                claimant.clashes.append(self.clashes[key])
            return False
        table[name] = Registered(obj, info)
        return True

    def clash(self, kind: str, name: str) -> PluginClashError | None:
        """The error for a withdrawn name, if ``name`` is one."""
        message = self.clashes.get(f"{kind} {name}")
        if message is None:
            return None
        return PluginClashError(f"{message}. Uninstall one of them, or choose plugins with TASUKI_PLUGINS=name,name")

    # --- lookups -------------------------------------------------------------------------

    def task(self, name: str) -> Any:
        """The task class registered as ``name``; an unknown name lists the known ones."""
        if name in self.tasks:
            return self.tasks[name].obj
        clash = self.clash("task", name)
        if clash is not None:
            raise clash
        known = ", ".join(sorted(self.tasks)) or "none: install a plugin ('tasuki doctor' lists them)"
        broken = [p.label() for p in self.plugins.values() if p.broken]
        hint = f"; broken plugins (see 'tasuki plugins'): {', '.join(broken)}" if broken else ""
        raise UnknownNameError(f"unknown task {name!r}; known tasks: {known}{hint}")

    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.broken]

    def serve_routes(self) -> dict[str, Any]:
        """The :class:`~tasuki.serve.routes.Route` objects plugins register, by path (``register_routes``).

        Collected on first use, not with the tasks: only a server needs them, and a plugin may import
        its serving code (pydantic) to describe them. A path two plugins register is withdrawn
        (:meth:`clash` ``("route", path)`` names both); so are the routes of two plugins that declare one
        attachment option (``--index``) or plural (``indexes``): :meth:`clash` ``("attachment", option)``.
        """
        if self._routes is None:
            self._routes = {}
            for impl in self.pm.hook.register_routes.get_hookimpls():
                info = self.plugins[impl.plugin_name]
                self._call(impl, info, register=lambda route, info=info: self._register_route(route, info))
            self._withdraw_attachment_clashes()
        return {path: registered.obj for path, registered in self._routes.items()}

    def _withdraw_attachment_clashes(self) -> None:
        """Withdraw every route whose attachment's option or plural another plugin's route declares too.

        One plugin may give several routes one attachment; two plugins cannot share ``tasuki serve --OPTION``,
        ``create_app(PLURAL=...)`` or ``TASUKI_SERVE_<PLURAL>``: no silent winner, as for a route path.
        """
        assert self._routes is not None
        claims: dict[tuple[str, str], list[Registered]] = {}
        for registered in self._routes.values():
            attachment = registered.obj.attachment
            if attachment is not None:
                claims.setdefault(("option", attachment.option), []).append(registered)
                claims.setdefault(("plural", attachment.plural), []).append(registered)
        for (what, name), routes in claims.items():
            plugins = {id(r.plugin) for r in routes}
            if len(plugins) < 2:
                continue
            shown = f"--{name}" if what == "option" else name
            message = (f"attachment {what} {shown!r} is declared twice: "
                       + " and ".join(f"by route {r.obj.path!r} of {r.plugin.label()}" for r in routes))
            for registered in routes:
                self.clashes.setdefault(f"attachment {registered.obj.attachment.option}", message)
                path = registered.obj.path
                if self._routes.pop(path, None) is None:
                    continue  # already withdrawn for its option, now for its plural
                self.clashes[f"route {path}"] = message
                registered.plugin.routes.remove(path)
                if message not in registered.plugin.clashes:
                    registered.plugin.clashes.append(message)

    def _register_route(self, route: Any, info: PluginInfo) -> None:
        from tasuki.serve.routes import check_route

        check_route(route)
        assert self._routes is not None
        if self._claim(self._routes, "route", route.path, route, info):
            info.routes.append(route.path)

    def add_commands(self, cli: Any) -> None:
        """Let every healthy plugin add its CLI subcommands (errors mark the plugin broken).

        A plugin cannot replace one of tasuki's own commands (it is put back, the plugin told why), and a name
        two plugins add is withdrawn from both, as a task is (``tasuki plugins`` names both)."""
        owners: dict[str, PluginInfo | None] = dict.fromkeys(cli.commands)  # None: tasuki's own
        for impl in self.pm.hook.register_commands.get_hookimpls():
            info = self.plugins[impl.plugin_name]
            before = dict(cli.commands)
            self._call(impl, info, cli=cli)
            for name, command in list(cli.commands.items()):
                if before.get(name) is command:
                    continue
                if name not in owners:
                    owners[name] = info
                    info.commands.append(name)
                    continue
                first = owners[name]
                if first is None:
                    cli.commands[name] = before[name]
                    info.clashes.append(f"command {name!r} is tasuki's own; {info.label()} may not replace it")
                    continue
                cli.commands.pop(name)
                if name in first.commands:  # withdrawn from both
                    first.commands.remove(name)
                key = f"command {name}"
                self.clashes[key] = (self.clashes.get(key) or f"command {name!r} is added by {first.label()}") + \
                    f" and by {info.label()}"
                for claimant in (first, info):
                    claimant.clashes.append(self.clashes[key])


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


def resolve_backbone(spec: str | os.PathLike | Backbone, **options: Any) -> Backbone:
    """Turn what the user wrote after ``--backbone`` into a :class:`Backbone`.

    Order: a Backbone object as is; ``PREFIX[:ARG]`` for a registered prefix; an existing
    local directory; otherwise a Hub id.
    """
    from tasuki.backbone import Backbone, HFBackbone

    if isinstance(spec, Backbone):
        return spec
    text = str(spec)
    prefix, _, arg = text.partition(":")
    registry = get_registry()
    factories = registry.backbones
    clash = registry.clash("backbone", prefix)
    if clash is not None:
        raise clash
    if prefix in factories and not Path(text).exists():
        backbone = factories[prefix].obj(arg or None, **options)
        backbone.spec = text
        return backbone
    path = Path(text).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UnknownNameError(
                f"backbone directory {path} has no config.json: expected a Hugging Face model directory"
            )
        return HFBackbone(path, spec=text, **options)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise UnknownNameError(f"backbone {text!r}: no such directory")
    return HFBackbone(text, spec=text, **options)


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
