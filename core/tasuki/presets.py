"""Presets: a registered name for an installed task with other defaults.

A plugin registers a :class:`Preset` through the ``register_presets`` hook. Once every plugin's tasks are
registered, the registry makes each preset a subclass of its task (:func:`preset_class`): the preset's
``name``, the class attributes it overrides, its option defaults. The subclass is registered as a task,
so training, ``tasuki.json`` (which records the preset's name), loading and serving see an ordinary task:
the preset copies no code, and its plugin imports no other plugin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tasuki.errors import UnknownNameError

if TYPE_CHECKING:
    from tasuki.task import Task

PRESET_ATTRIBUTES = ("languages", "default_backbones", "training_defaults")
"""Class attributes of :class:`~tasuki.task.Task` that any preset may set (each replaces the base's value);
a task adds its own in :attr:`~tasuki.task.Task.preset_attributes`."""


@dataclass(frozen=True)
class Preset:
    """A task name that is another task with other defaults (``sentiment``: ``classify`` scored by macro F1).

    Registered through the ``register_presets`` hook::

        @hookimpl
        def register_presets(register):
            register(Preset(name="sentiment", task="classify", description="Sentiment labels (en, ja)",
                            attributes={"single_label_metric": "f1_macro"}, distribution="tasuki-classify"))
    """

    name: str
    """The registered name (``tasuki train NAME``); a model trained under it loads back as the preset."""
    task: str
    """The registered name of the base task (a task, not another preset)."""
    description: str = ""
    """What ``tasuki tasks`` shows; empty: the base task's description."""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    """Class attributes of the base task to replace: :data:`PRESET_ATTRIBUTES` and the names in the base's
    ``preset_attributes``; any other name is refused."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Defaults of the base task's options (fields of its ``Options``), checked and saved like the user's:
    ``--option NAME=VALUE`` (``task_options=``) still wins."""
    distribution: str | None = None
    """The distribution that provides :attr:`task`, named when it is missing; default ``tasuki-TASK``."""

    def __post_init__(self) -> None:
        # frozen all the way down: the registry builds the class from these mappings once
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))


def resolve_preset(preset: Any, tasks: Mapping[str, Any], clashes: Mapping[str, str], module: str) -> type[Task]:
    """The class of ``preset`` on its base task, from the registry's ``tasks`` (``{name: Registered}``) and
    ``clashes`` (``{"task NAME": message}``, names withdrawn); ``module``: the preset's plugin module.

    :raises TypeError: ``preset`` is not a :class:`Preset`.
    :raises UnknownNameError: the base task is not registered (the line names the distribution to install),
        withdrawn, or a preset; ``preset`` sets an attribute a preset may not.
    :raises SettingError: an option the base task's ``Options`` does not have, or a value it does not allow.
    """
    if not isinstance(preset, Preset):
        raise TypeError(f"{preset!r} is not a tasuki.plugin.Preset")
    if preset.task not in tasks:
        clash = clashes.get(f"task {preset.task}")
        why = f", which is withdrawn: {clash}" if clash else f" (pip install {preset.distribution or 'tasuki-' + preset.task})"
        raise UnknownNameError(f"preset {preset.name!r} needs task {preset.task!r}{why}")
    base = tasks[preset.task].obj
    return preset_class(preset, base, module or base.__module__)


def preset_class(preset: Preset, base: type[Task], module: str) -> type[Task]:
    """The subclass of ``base`` that ``preset`` names, defined as if in ``module`` (its plugin's).

    :raises UnknownNameError: ``base`` is itself a preset, or ``preset`` sets an attribute it may not.
    :raises SettingError: an option ``base.Options`` does not have, or a value it does not allow.
    """
    from tasuki.settings import build

    if base.preset_of is not None:
        raise UnknownNameError(f"preset {preset.name!r} needs task {preset.task!r}, which is itself a preset "
                               f"of {base.preset_of!r}: name {base.preset_of!r} instead")
    allowed = (*PRESET_ATTRIBUTES, *base.preset_attributes)
    unknown = sorted(set(preset.attributes) - set(allowed))
    if unknown:
        raise UnknownNameError(f"preset {preset.name!r} sets {', '.join(map(repr, unknown))}, which a preset of "
                               f"task {base.name!r} may not set; allowed: {', '.join(allowed)}")
    build(base.Options, preset.options, what=f"option of preset {preset.name!r}")  # refused now, not at training
    class_name = "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", preset.name)) + "Preset"
    namespace = {
        **preset.attributes,
        "name": preset.name,
        "description": preset.description or base.description,
        "preset_of": base.name,
        "preset_options": preset.options,
        "__module__": module,
        "__qualname__": class_name,
        "__doc__": f"The preset {preset.name!r}: task {base.name!r} ({base.__qualname__}) with other defaults.",
    }
    return type(class_name, (base,), namespace)
