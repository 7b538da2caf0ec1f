"""What the registry checks of a plugin's hooks: names it does not know, task classes, return values, commands.

Each check names one plugin, so the registry marks that plugin broken (or withdraws a name) and every other
plugin keeps working: a typo in one plugin's hook name must not stop ``tasuki --help``.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from typing import Any

import pluggy


def unknown_hooks(pm: pluggy.PluginManager) -> dict[str, str]:
    """``{plugin name: message}`` for each plugin with a ``@hookimpl`` that no hookspec declares (a misspelt
    ``register_task``): what ``pm.check_pending()`` raises for the first one, for all of them, by plugin."""
    known = sorted(name for name, caller in vars(pm.hook).items()
                   if isinstance(caller, pluggy.HookCaller) and caller.has_spec())
    found: dict[str, str] = {}
    for name, caller in vars(pm.hook).items():
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            found.setdefault(impl.plugin_name, f"unknown hook {name!r}{hint}; tasuki's hooks: {', '.join(known)}")
    return found


def check_returned(impl: pluggy.HookImpl, value: Any) -> None:
    """Refuse a value returned by a hook: tasuki's hooks add what they register by calling ``register(...)``
    (or by adding to ``cli``), so a returned list of tasks would be dropped without a word."""
    if value is not None:
        how = "add commands to cli" if impl.function.__name__ == "register_commands" else "call register(...)"
        from tasuki.errors import TasukiError

        raise TasukiError(f"hook {impl.function.__module__}.{impl.function.__name__} returned a "
                          f"{type(value).__name__}, which is ignored: {how} for each thing it registers, "
                          f"and return nothing")


def call_by_name(impl: pluggy.HookImpl, **arguments: Any) -> Any:
    """Call a hook implementation with the ``arguments`` it declares, by name, as ``pm.hook.NAME(...)`` would.

    The registry calls each plugin's implementation itself (to attribute errors and names to
    it), so it follows pluggy's rule here: an implementation takes any subset of the hookspec's
    arguments, in any order. A hook can then grow an argument without breaking existing plugins.
    """
    return impl.function(**{name: arguments[name] for name in impl.argnames})


def check_task_class(task_cls: Any) -> None:
    """Refuse a task class that lacks what the runner needs, naming each missing member."""
    from tasuki.task import Task

    if not (isinstance(task_cls, type) and issubclass(task_cls, Task)):
        raise TypeError(f"{task_cls!r} is not a subclass of tasuki.task.Task")
    missing = []
    if not isinstance(getattr(task_cls, "name", None), str) or not task_cls.name:
        missing.append("the class attribute 'name'")
    if inspect.getattr_static(task_cls, "auto_model") is None and task_cls.build_model is Task.build_model:
        missing.append("'auto_model' (a transformers Auto class) or an override of build_model()")
    options = getattr(task_cls, "Options", None)
    fields = {f.name for f in dataclasses.fields(options)} if dataclasses.is_dataclass(options) else set()
    for declared in ("request_parameters", "reading_options"):
        unknown = [name for name in getattr(task_cls, declared, ()) if name not in fields]
        if unknown:  # a renamed option must not silently stop being settable per request
            missing.append(f"Options fields named by {declared!r} ({', '.join(map(repr, unknown))})")
    abstract = sorted(getattr(task_cls, "__abstractmethods__", ()))
    if abstract:
        missing.append("the method(s) " + ", ".join(abstract))
    if missing:
        raise TypeError(f"task class {task_cls.__module__}.{task_cls.__qualname__} lacks " + "; ".join(missing))
