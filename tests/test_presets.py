"""Presets (the ``register_presets`` hook): a name for an installed task with other defaults, built by the registry."""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from typing import ClassVar

import pytest

import tasuki
from tasuki.api import describe_task
from tasuki.errors import PluginClashError
from tasuki.hookspecs import hookimpl
from tasuki.plugin import Preset, SettingError, setting
from tasuki.registry import Registry
from tasuki.testing import only_plugins
from tasuki_template.task import TemplateClassificationTask


@dataclass
class ToyOptions:
    lowercase: bool = False
    """Lower-case texts before tokenizing."""
    width: int = setting(8, min=1)
    """A number with a range, so that a preset's value is checked."""


class ToyTask(TemplateClassificationTask):
    """The template's classifier with one attribute a preset may set."""

    name = "toy"
    description = "toy classification"
    Options = ToyOptions
    greeting: ClassVar[str] = "hello"
    preset_attributes = ("greeting",)


def plugin(name: str, *, tasks: tuple[type, ...] = (), presets: tuple[Preset, ...] = ()) -> tuple[str, types.ModuleType]:
    """An in-test plugin module registering ``tasks`` and ``presets``."""
    module = types.ModuleType(f"{name}_mod")

    @hookimpl
    def register_tasks(register):
        for task in tasks:
            register(task)

    @hookimpl
    def register_presets(register):
        for preset in presets:
            register(preset)

    module.register_tasks, module.register_presets = register_tasks, register_presets
    return name, module


SHOUT = Preset(name="toy-shout", task="toy", description="toy, lower-cased, greeting loudly",
               attributes={"greeting": "HELLO", "training_defaults": {"max_length": 16}, "languages": ("en",)},
               options={"lowercase": True, "width": 4}, distribution="tasuki-toy")


def test_a_preset_is_a_subclass_of_its_task_with_the_overrides() -> None:
    registry = Registry([plugin("base", tasks=(ToyTask,)), plugin("shout", presets=(SHOUT,))], entry_points=False)
    cls = registry.task("toy-shout")
    assert issubclass(cls, ToyTask) and cls is not ToyTask
    assert (cls.name, cls.preset_of, cls.description) == ("toy-shout", "toy", "toy, lower-cased, greeting loudly")
    assert (cls.greeting, cls.training_defaults, cls.languages) == ("HELLO", {"max_length": 16}, ("en",))
    assert (cls.__module__, cls.__qualname__) == ("shout_mod", "ToyShoutPreset")
    assert ToyTask.greeting == "hello" and ToyTask.preset_of is None  # the base is untouched
    assert registry.plugins["shout"].presets == ["toy-shout"] and registry.task("toy") is ToyTask
    task = cls()
    assert (task.options.lowercase, task.options.width) == (True, 4)
    assert {"lowercase", "width"} <= task.given_options  # fit() must not re-decide what the preset set


def test_the_users_option_beats_the_presets() -> None:
    with only_plugins(plugin("base", tasks=(ToyTask,)), plugin("shout", presets=(SHOUT,))):
        task = tasuki.make_task("toy-shout", width="12")  # as --option width=12 gives it: converted, checked
        assert (task.options.lowercase, task.options.width) == (True, 12)
        with pytest.raises(SettingError, match="width"):
            tasuki.make_task("toy-shout", width=0)
        assert tasuki.list_tasks()["toy-shout"]["preset_of"] == "toy"
        described = describe_task("toy-shout")
        assert described["preset_of"] == "toy"
        assert {o["name"]: o["default"] for o in described["options"]} == {"lowercase": True, "width": 4}


def test_a_preset_without_its_task_breaks_its_plugin_in_one_line() -> None:
    registry = Registry([plugin("shout", presets=(SHOUT,)), plugin("other", tasks=(TemplateClassificationTask,))],
                        entry_points=False)
    assert registry.plugins["shout"].error == "preset 'toy-shout' needs task 'toy' (pip install tasuki-toy)"
    assert "toy-shout" not in registry.tasks and registry.task("template-classify")  # the rest keeps working
    default = Preset(name="p", task="missing")
    registry = Registry([plugin("p", presets=(default,))], entry_points=False)
    assert registry.plugins["p"].error == "preset 'p' needs task 'missing' (pip install tasuki-missing)"


@pytest.mark.parametrize(("preset", "message"), [
    (Preset(name="p", task="toy", attributes={"main_metric": "f1"}),
     "preset 'p' sets 'main_metric', which a preset of task 'toy' may not set; allowed: languages, "
     "default_backbones, training_defaults, greeting"),
    (Preset(name="p", task="toy", options={"colour": "red"}), "unknown option of preset 'p' 'colour'; known: lowercase, width"),
    (Preset(name="p", task="toy-shout"), "preset 'p' needs task 'toy-shout', which is itself a preset of 'toy'"),
])
def test_a_preset_its_task_cannot_take_is_refused_in_one_line(preset: Preset, message: str) -> None:
    registry = Registry([plugin("base", tasks=(ToyTask,)), plugin("shout", presets=(SHOUT,)), plugin("p", presets=(preset,))],
                        entry_points=False)
    error = registry.plugins["p"].error
    assert error.startswith(message) and "\n" not in error
    assert "p" not in registry.tasks and registry.task("toy-shout")


def test_two_plugins_claiming_one_preset_name_are_both_withdrawn() -> None:
    clone = Preset(name="toy-shout", task="toy")
    registry = Registry([plugin("base", tasks=(ToyTask,)), plugin("shout", presets=(SHOUT,)),
                         plugin("clone", presets=(clone,))], entry_points=False)
    with pytest.raises(PluginClashError, match="task 'toy-shout' is registered twice: by shout_mod.*and by clone_mod"):
        registry.task("toy-shout")
    assert registry.plugins["shout"].clashes and registry.plugins["clone"].clashes
    assert registry.task("toy") is ToyTask


def test_a_preset_named_like_a_task_is_a_clash() -> None:
    registry = Registry([plugin("base", tasks=(ToyTask,)), plugin("p", presets=(Preset(name="toy", task="toy"),))],
                        entry_points=False)
    with pytest.raises(PluginClashError, match="task 'toy' is registered twice"):
        registry.task("toy")


def test_a_model_trained_as_a_preset_loads_back_as_the_preset(backbone_dir: str, toy_rows: list, tmp_path) -> None:
    with only_plugins(plugin("base", tasks=(ToyTask,)), plugin("shout", presets=(SHOUT,))) as registry:
        out = tmp_path / "model"
        result = tasuki.train("toy-shout", toy_rows, backbone=backbone_dir, output_dir=out, max_steps=2, batch_size=8,
                              eval_split=0.0, progress=False, task_options={"width": 6})
        assert result.output_dir == out
        meta = json.loads((out / "tasuki.json").read_text(encoding="utf-8"))
        assert meta["task"] == "toy-shout"
        assert meta["task_state"]["options"] == {"lowercase": True, "width": 6}  # saved like the user's
        assert meta["plugin"]["distribution"] == "shout_mod"  # the preset's plugin, not the base's
        model = tasuki.load(out)
        assert type(model.task) is registry.task("toy-shout") and model.task.preset_of == "toy"
        assert (model.task.options.lowercase, model.task.options.width) == (True, 6)
        assert model.predict("GOOD MOVIE")["label"] in ("neg", "pos")
