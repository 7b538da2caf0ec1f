"""Plugin discovery, fault isolation, name clashes and TASUKI_PLUGINS."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

import click
import pluggy
import pytest

from tasuki import registry as registry_module
from tasuki.errors import PluginClashError, UnknownNameError
from tasuki.hookspecs import PROJECT, hookimpl, hookspec
from tasuki.registry import Registry
from tasuki_template import plugin as toy_plugin


def make_plugin(name: str, task_name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    class OtherTask(toy_plugin.TemplateClassificationTask):
        pass

    OtherTask.name = task_name

    @hookimpl
    def register_tasks(register):
        register(OtherTask)

    module.register_tasks = register_tasks
    return module


def test_in_test_plugin_registers_its_task() -> None:
    registry = Registry([("toy", toy_plugin)], entry_points=False)
    assert registry.task("template-classify") is toy_plugin.TemplateClassificationTask
    assert registry.plugins["toy"].tasks == ["template-classify"]
    assert {"hf", "minilm", "e5-small"} <= set(registry.backbones)  # built-ins use the same hooks


def test_unknown_task_lists_known_ones() -> None:
    registry = Registry([("toy", toy_plugin)], entry_points=False)
    with pytest.raises(UnknownNameError, match="unknown task 'nope'.*template-classify"):
        registry.task("nope")


def test_clash_is_isolated_and_names_both_distributions() -> None:
    other = make_plugin("other_mod", "other-task")
    registry = Registry([("toy", toy_plugin), ("clone", make_plugin("clone_mod", "template-classify")), ("other", other)],
                        entry_points=False)
    with pytest.raises(PluginClashError, match="'template-classify' is registered twice.*toy.*clone"):
        registry.task("template-classify")
    assert registry.task("other-task")  # every other task keeps working
    assert "template-classify" not in registry.tasks  # neither claimant wins silently
    assert registry.plugins["toy"].clashes and registry.plugins["clone"].clashes


def test_unknown_name_in_tasuki_plugins_lists_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, [EntryPoint(name="toy", value="tasuki_template.plugin", group="tasuki")])
    monkeypatch.setenv("TASUKI_PLUGINS", "toy,nonexistent")
    with pytest.raises(UnknownNameError, match="TASUKI_PLUGINS names 'nonexistent'.*installed plugins: toy"):
        Registry()


def test_incomplete_task_class_is_reported_by_name() -> None:
    from tasuki.task import Task

    class Half(Task):
        name = "half"

    plugin = types.ModuleType("half_mod")

    @hookimpl
    def register_tasks(register):
        register(Half)

    plugin.register_tasks = register_tasks
    registry = Registry([("half", plugin)], entry_points=False)
    error = registry.plugins["half"].error
    assert "lacks 'auto_model'" in error and "compute_metrics, encode, postprocess" in error


def test_reading_options_must_be_options() -> None:
    class Misnamed(toy_plugin.TemplateClassificationTask):
        name = "misnamed"
        reading_options = ("label_sep",)  # a renamed option would silently stop being settable by evaluate --option

    plugin = types.ModuleType("misnamed_mod")

    @hookimpl
    def register_tasks(register):
        register(Misnamed)

    plugin.register_tasks = register_tasks
    error = Registry([("misnamed", plugin)], entry_points=False).plugins["misnamed"].error
    assert "lacks Options fields named by 'reading_options' ('label_sep')" in error


def test_plugin_that_raises_while_registering_is_isolated() -> None:
    broken = types.ModuleType("broken_mod")

    @hookimpl
    def register_tasks(register):
        raise RuntimeError("boom")

    broken.register_tasks = broken_hook = register_tasks  # noqa: F841
    registry = Registry([("broken", broken), ("toy", toy_plugin)], entry_points=False)
    assert registry.plugins["broken"].broken
    assert "RuntimeError: boom" in registry.plugins["broken"].error
    assert registry.task("template-classify")  # the others keep working
    with pytest.raises(UnknownNameError, match="broken plugins"):
        registry.task("missing")


def test_misspelt_hook_is_reported_not_fatal() -> None:
    odd = types.ModuleType("odd_mod")

    @hookimpl
    def register_taks(register):  # a typo: pluggy's check_pending catches it
        pass

    odd.register_taks = register_taks
    # pluggy's check_pending raised for the whole registry: every command was a traceback
    registry = Registry([("odd", odd), ("toy", toy_plugin)], entry_points=False)
    assert registry.plugins["odd"].error.startswith("unknown hook 'register_taks' (did you mean 'register_tasks'?)")
    assert "template-classify" in registry.tasks and not registry.plugins["toy"].broken


def test_a_hook_that_returns_its_tasks_is_reported() -> None:
    returns = types.ModuleType("returns_mod")

    @hookimpl
    def register_tasks(register):  # returns what it should register: pluggy would collect it, tasuki drops it
        return [toy_plugin.TemplateClassificationTask]

    returns.register_tasks = register_tasks
    registry = Registry([("returns", returns)], entry_points=False)
    assert registry.plugins["returns"].error == ("hook test_registry.register_tasks returned a list, which is ignored: "
                                                 "call register(...) for each thing it registers, and return nothing")


def test_a_command_is_never_replaced_and_two_plugins_lose_a_shared_one() -> None:
    def adds(*names: str) -> types.ModuleType:
        module = types.ModuleType("commands_" + "_".join(names))

        @hookimpl
        def register_commands(cli):
            for name in names:
                cli.add_command(click.Command(name, callback=lambda: None, help=f"{module.__name__}'s"))

        module.register_commands = register_commands
        return module

    core = click.Command("train", callback=lambda: None)
    cli = click.Group(commands=[core])
    registry = Registry([("first", adds("train", "shared", "own")), ("second", adds("shared"))], entry_points=False)
    registry.add_commands(cli)
    assert cli.commands["train"] is core and "shared" not in cli.commands and "own" in cli.commands
    first, second = registry.plugins["first"], registry.plugins["second"]
    assert first.commands == ["own"] and second.commands == []
    assert "command 'train' is tasuki's own" in first.clashes[0]
    assert second.clashes == [first.clashes[1]] and "command 'shared' is added by" in second.clashes[0]


def test_hook_implementation_may_take_a_subset_of_the_arguments() -> None:
    """pluggy's rule: an implementation declares only the hook arguments it uses (here none; ``self`` is no argument)."""
    import click

    class Quiet:
        def __init__(self) -> None:
            self.called: list[str] = []

        @hookimpl
        def register_backbones(self) -> None:
            self.called.append("backbones")

        @hookimpl
        def register_commands(self) -> None:
            self.called.append("commands")

    quiet = Quiet()
    registry = Registry([("quiet", quiet)], entry_points=False)
    registry.add_commands(click.Group())
    assert registry.plugins["quiet"].error is None
    assert quiet.called == ["backbones", "commands"]


def test_grown_hook_passes_each_implementation_its_arguments_by_name() -> None:
    """A hook that grows a second argument keeps working for implementations in any order, or with a subset."""
    from tasuki.registry import call_by_name

    spec = types.ModuleType("grown_spec")

    @hookspec
    def register_tasks(register, lang):  # register_tasks as it might grow
        pass

    spec.register_tasks = register_tasks
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(spec)
    seen = []

    class Reordered:
        @hookimpl
        def register_tasks(self, lang, register):
            seen.append(("reordered", lang, register))

    class Subset:
        @hookimpl
        def register_tasks(self, register):
            seen.append(("subset", register))

    pm.register(Reordered())
    pm.register(Subset())
    for impl in pm.hook.register_tasks.get_hookimpls():
        call_by_name(impl, register="REGISTER", lang="ja")
    assert sorted(seen) == [("reordered", "ja", "REGISTER"), ("subset", "REGISTER")]


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, eps: list[EntryPoint]) -> None:
    monkeypatch.setattr(registry_module, "entry_points", lambda group: eps if group == "tasuki" else [])


def test_entry_point_import_error_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = EntryPoint(name="bad", value="tasuki_does_not_exist.plugin", group="tasuki")
    good = EntryPoint(name="toy", value="tasuki_template.plugin", group="tasuki")
    _fake_entry_points(monkeypatch, [bad, good])
    registry = Registry()
    assert registry.plugins["bad"].broken
    assert "ModuleNotFoundError" in registry.plugins["bad"].error
    assert registry.task("template-classify") is toy_plugin.TemplateClassificationTask


def test_tasuki_plugins_restricts_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    sys.modules["fake_other_plugin"] = make_plugin("fake_other_plugin", "other-task")
    eps = [
        EntryPoint(name="toy", value="tasuki_template.plugin", group="tasuki"),
        EntryPoint(name="other", value="fake_other_plugin", group="tasuki"),
    ]
    _fake_entry_points(monkeypatch, eps)
    monkeypatch.setenv("TASUKI_PLUGINS", "other")
    registry = Registry()
    assert set(registry.tasks) == {"other-task"}
    monkeypatch.setenv("TASUKI_PLUGINS", "toy, other")
    assert set(Registry().tasks) == {"template-classify", "other-task"}


def test_installed_toy_distribution_is_found_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """tox installs plugins/_template as a real distribution: discovery must find it with no help."""
    monkeypatch.delenv("TASUKI_PLUGINS", raising=False)
    registry = Registry()
    assert registry.plugins["template"].distribution == "tasuki-template"
    assert registry.plugins["template"].version == "0.1.0"
    assert "template-classify" in registry.tasks
