"""The CLI end to end: plugins, tasks, doctor, train -> predict -> evaluate, and clean errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tasuki.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_plugins_and_tasks_list_the_toy_plugin(toy_registry) -> None:
    code, out = run("plugins", "--json")
    assert code == 0
    plugins = {p["name"]: p for p in json.loads(out)}
    assert plugins["toy"]["tasks"] == ["template-classify"] and not plugins["toy"]["broken"]
    assert plugins["builtin"]["backbones"] == ["hf", "minilm", "e5-small"]
    code, out = run("tasks")
    assert code == 0 and "template-classify" in out


def test_doctor_reports_each_component(toy_registry, monkeypatch) -> None:
    from tasuki.cli import doctor

    # one plugin that is surely not installed, kept in the checkout's qa folder: doctor says how to add it
    monkeypatch.setitem(doctor.PLUGINS, "tasuki-not-installed", ("qa", "a plugin for this test"))
    code, out = run("doctor")
    assert code == 0, out
    for word in ("Python", "torch", "accelerate", "MeCab", "tasks: template-classify", "tasuki plugins: "):
        assert word in out
    for distribution in doctor.PLUGINS:
        assert distribution in out
    missing = next(line for line in out.splitlines() if "tasuki-not-installed" in line)
    # from a checkout: pip install -e .../plugins/qa; from an installed tasuki: pip install tasuki-not-installed
    command = doctor.install_command("tasuki-not-installed", "qa")
    assert "missing" in missing and command in missing and command.startswith("pip install")


def test_train_predict_evaluate(toy_registry, backbone_dir: str, toy_rows: list[dict], tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("review,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in toy_rows), encoding="utf-8")
    out = tmp_path / "model"
    code, text = run("train", "template-classify", "--data", str(data), "--column", "text=review", "--output", str(out),
                     "--backbone", backbone_dir, "--epochs", "8", "--batch-size", "8", "--learning-rate", "3e-3",
                     "--json")
    assert code == 0, text
    # the 10% held out are copies of training rows (each sentence is there 4 times): all learnt
    assert json.loads(text)["metrics"]["accuracy"] == 1.0
    code, text = run("predict", str(out), "good food", "terrible service", "--json")
    assert code == 0
    assert [p["label"] for p in json.loads(text)] == ["pos", "neg"]
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("good food\n\nterrible service\n", encoding="utf-8")
    code, text = run("predict", str(out), "--input", str(inputs))
    assert code == 0 and text.count("\n") == 2
    code, text = run("evaluate", str(out), "--data", str(data), "--column", "text=review", "--json")
    assert code == 0 and json.loads(text)["accuracy"] == 1.0  # 48 rows, 12 sentences it was trained on


def test_errors_are_one_clear_line(toy_registry, tmp_path: Path) -> None:
    code, out = run("train", "nope", "--data", "x.csv", "--output", str(tmp_path))
    assert code == 2 and "unknown task 'nope'" in out and "Traceback" not in out
    code, out = run("predict", str(tmp_path / "missing"), "text")
    assert code == 2 and "no such model directory" in out



def test_an_option_of_one_value_given_twice_is_refused(toy_registry, tmp_path: Path) -> None:
    # click keeps the last: a first --data was dropped without a word
    code, out = run("train", "template-classify", "--data", "a.csv", "--data=b.csv", "--output", str(tmp_path / "o"))
    assert code == 2 and "--data is given twice: the first would be dropped; give it once" in out
    assert "train [OPTIONS] TASK" in out and not (tmp_path / "o").exists()
    code, out = run("predict", str(tmp_path), "--input", str(tmp_path), "--batch-size", "4", "--batch-size", "8")
    assert code == 2 and "--batch-size is given twice" in out
    # a repeatable option repeats, and a text after -- is no option
    code, out = run("train", "template-classify", "--data", "a.csv", "--column", "text=t", "--column", "label=l",
                    "--output", str(tmp_path / "o"))
    assert "given twice" not in out


def test_cli_shows_plugin_messages_once_and_library_warnings_only(monkeypatch, capsys) -> None:
    import importlib.metadata
    import logging
    from types import SimpleNamespace

    import tasuki.cli as tasuki_cli

    # a third-party plugin whose module is not named after tasuki: its INFO lines are tasuki's messages too
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [SimpleNamespace(module="acme_tasks.plugin")])
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    # without the handler an earlier command in this process added (it read the real entry points)
    handlers = [h for h in saved if not any(isinstance(f, tasuki_cli._TasukiMessages) for f in h.filters)]
    try:
        for first_process in (True, False):
            root.handlers[:] = handlers
            monkeypatch.setattr("tasuki.devices.world", lambda first=first_process: (0 if first else 1, 2))
            tasuki_cli._show_tasuki_messages()
            tasuki_cli._show_tasuki_messages()  # a second call adds no second handler
            logging.getLogger("acme_tasks.task").info("acme chose a recipe")
            logging.getLogger("tasuki.api").info("tasuki detected the language")
            logging.getLogger("tasuki.api").error("tasuki failed")
            logging.getLogger("urllib3.connection").info("library chatter")
            logging.getLogger("urllib3.connection").warning("library warning")
            err = capsys.readouterr().err
            said = "acme chose a recipe\ntasuki detected the language\n" if first_process else ""
            assert err == said + "tasuki failed\nlibrary warning\n"
    finally:
        root.handlers[:], root.level = saved, level
