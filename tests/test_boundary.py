"""Every unusual input at the door: a clear one-line error (exit 2, no traceback, nothing written), or the right result.

One table of cases through the CLI, each reproduced from a run as a new user would make it,
then the cases that need a real subprocess (bytes on the command line, stdin answering "y").
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tasuki
from tasuki.args import TrainingArgs
from tasuki.errors import TasukiError
from tasuki.registry import Registry, set_registry
from tasuki.testing import run_cli as invoke

ROWS = [("good movie", "pos"), ("great food", "pos"), ("nice place", "pos"), ("bad movie", "neg"),
        ("terrible food", "neg"), ("awful place", "neg")] * 3


def csv_text(rows: list[tuple[str, str]], header: str = "text,label") -> str:
    return header + "\n" + "".join(f"{t},{lab}\n" for t, lab in rows)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("boundary-data")
    made = {
        "good.csv": csv_text(ROWS),
        "review.csv": csv_text(ROWS, header="review,stars"),
        "nan.csv": csv_text([*ROWS[:2], ("meh movie", "NaN"), *ROWS[2:]]),
        "empty_label.csv": csv_text([*ROWS[:4], ("meh movie", " "), *ROWS[4:]]),
        "surrogate.jsonl": "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in ROWS[:2])
        + '{"text": "broken \\ud800 text", "label": "pos"}\n',
        "json_nan.jsonl": "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in ROWS[:2])
        + '{"text": "meh", "label": NaN}\n' + "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in ROWS),
        "header_only.csv": "text,label\n",
    }
    for name, text in made.items():
        (root / name).write_text(text, encoding="utf-8")
    return {name: root / name for name in made}


@pytest.fixture(scope="module")
def model_dir(registry: Registry, backbone_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("boundary-model") / "model"
    tasuki.train("template-classify", [{"text": t, "label": lab} for t, lab in ROWS], backbone=backbone_dir, output_dir=out,
                 max_steps=2, batch_size=4, checkpoints=False, progress=False, eval_split=0)
    return out


def assert_clear_error(args: tuple[str, ...], expected: str) -> None:
    code, _, err = invoke(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (args, code, err)
    assert "Traceback" not in err, err
    assert lines and expected in lines[-1], (expected, err)


TRAIN_CASES = {
    # name: (extra arguments, file, expected words in the one-line error)
    "negative learning rate": (["--learning-rate", "-1"], "good.csv", "'learning_rate': -1.0 is not allowed"),
    "eval split above 1": (["--eval-split", "1.5"], "good.csv",
                           "'eval_split': 1.5 is not allowed; allowed: a number >= 0 and < 1"),
    "negative eval split": (["--eval-split", "-0.2"], "good.csv", "'eval_split': -0.2 is not allowed"),
    "negative max steps": (["--max-steps", "-5"], "good.csv", "'max_steps': -5 is not allowed"),
    "zero epochs": (["--epochs", "0"], "good.csv", "'epochs': 0 is not allowed; allowed: an integer >= 1"),
    "zero batch size": (["--batch-size", "0"], "good.csv", "'batch_size': 0 is not allowed"),
    "zero max length": (["--max-length", "0"], "good.csv", "'max_length': 0 is not allowed"),
    "zero accumulation": (["--gradient-accumulation-steps", "0"], "good.csv", "'gradient_accumulation_steps': 0"),
    "unknown precision": (["--mixed-precision", "fp8"], "good.csv", "'fp8' is not one of"),
    "seed that is not a number": (["--seed", "abc"], "good.csv", "'abc' is not a valid integer"),
    "misspelt task option": (["--option", "lowercse=true"], "good.csv",
                             "unknown option of task 'template-classify' 'lowercse'; known: lowercase"),
    "boolean option 'flase'": (["--option", "lowercase=flase"], "good.csv",
                               "'lowercase': 'flase' is not allowed; allowed: true or false"),
    "labels as a bare word": (["--option", "labels=positive"], "good.csv", "'labels': expected a list of label names"),
    "option given twice": (["--option", "lowercase=true", "--option", "lowercase=false"], "good.csv", "given twice"),
    "column mapped to nothing": (["--column", "text=body"], "good.csv",
                                 "no column 'body' (mapped to 'text'); found columns: text, label"),
    "columns not mapped": ([], "review.csv", "missing column 'text', 'label'"),
    "CSV label NaN": ([], "nan.csv", "row 3, column 'label': missing label ('NaN')"),
    "blank label": ([], "empty_label.csv", "row 5, column 'label': missing label"),
    "lone surrogate in JSONL": ([], "surrogate.jsonl", "row 3, column 'text': invalid character"),
    "JSON NaN label": ([], "json_nan.jsonl", "row 3, column 'label': missing label (None)"),
    "streamed file without rows": (["--streaming"], "header_only.csv", "header_only.csv: no examples in file"),
    "backbone directory that does not exist": (["--backbone", "./no/such/dir"], "good.csv", "no such directory"),
}


@pytest.mark.parametrize("name", list(TRAIN_CASES))
def test_train_refuses_with_one_line_and_writes_nothing(name: str, registry, files, backbone_dir, tmp_path) -> None:
    extra, data, expected = TRAIN_CASES[name]
    out = tmp_path / "out"
    backbone = [] if "--backbone" in extra else ["--backbone", backbone_dir]
    assert_clear_error(("train", "template-classify", "--data", files[data], "--output", out, *backbone, *extra,
                        "--max-steps" if "--max-steps" not in extra else "--seed", "1"), expected)
    assert not out.exists()


def test_unknown_task_and_missing_model(registry, tmp_path) -> None:
    assert_clear_error(("train", "nope", "--data", "x.csv", "--output", tmp_path / "o"), "unknown task 'nope'")
    assert_clear_error(("predict", tmp_path / "missing", "text"), "no such model directory")
    assert not (tmp_path / "o").exists()


def _copy_model(model_dir: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(model_dir, target)
    return target


def _edit_json(path: Path, change) -> None:
    value = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(change(value)), encoding="utf-8")


MODEL_CASES = {
    "tasuki.json is a list": (lambda d: (d / "tasuki.json").write_text("[]"), "tasuki.json: expected a JSON object"),
    "tasuki.json without task_state": (lambda d: _edit_json(d / "tasuki.json", lambda m: {k: v for k, v in m.items()
                                                                                        if k != "task_state"}),
                                       "field 'task_state' is missing"),
    "labels disagree with config.json": (lambda d: _edit_json(d / "tasuki.json", lambda m: {
        **m, "task_state": {**m["task_state"], "labels": list(reversed(m["task_state"]["labels"]))}}),
        "disagree with config.json's id2label"),
    "a saved option out of range": (lambda d: _edit_json(d / "tasuki.json", lambda m: {
        **m, "task_state": {**m["task_state"], "options": {"lowercase": "maybe"}}}), "field 'task_state'"),
    "config asks for remote code": (lambda d: _edit_json(d / "config.json", lambda c: {
        **c, "auto_map": {"AutoConfig": "custom.Config"}}), "asks to run its own Python code (custom.py)"),
}


@pytest.mark.parametrize("name", list(MODEL_CASES))
def test_broken_model_directories_are_one_line(name: str, registry, model_dir: Path, tmp_path: Path) -> None:
    change, expected = MODEL_CASES[name]
    broken = _copy_model(model_dir, tmp_path / "m")
    change(broken)
    before = {p.name: p.read_bytes() for p in broken.iterdir() if p.is_file()}
    assert_clear_error(("predict", broken, "good food"), expected)
    assert {p.name: p.read_bytes() for p in broken.iterdir() if p.is_file()} == before  # nothing changed on disk


def test_plugins_names_an_unknown_tasuki_plugins_entry(monkeypatch) -> None:
    monkeypatch.setenv("TASUKI_PLUGINS", "nonexistent")
    set_registry(None)
    try:
        assert_clear_error(("tasks",), "TASUKI_PLUGINS names 'nonexistent'")
    finally:
        set_registry(None)


def test_long_csv_field_reads(tmp_path: Path) -> None:
    from tasuki.data import read_file

    path = tmp_path / "long.csv"
    path.write_text("text,label\n" + "word " * 300_000 + ",pos\n", encoding="utf-8")  # 1.5 MB: 11x csv's default limit
    assert len(read_file(path)[0]["text"]) == 1_500_000


# --- every training argument reaches the run -----------------------------------------------

NON_DEFAULTS = {
    "epochs": 2, "min_steps": 0, "max_steps": 3, "learning_rate": 1e-3, "batch_size": 3, "eval_batch_size": 5,
    "gradient_accumulation_steps": 2, "max_length": 16, "weight_decay": 0.0, "warmup_ratio": 0.0, "max_grad_norm": 0.0,
    "seed": 0, "mixed_precision": "no", "group_by_length": False, "save_steps": 0, "save_total_limit": 0,
    "checkpoints": False, "keep_checkpoints": True, "logging_steps": 1, "eval_split": 0.25,
    "early_stopping_patience": 0, "keep_weights": "best", "overwrite": True, "num_proc": 1, "streaming": True, "cpu": True,
    "freeze_embeddings": True, "progress": False,
}
NOT_FROM_A_TEST = {
    "output_dir": "given as --output",
    "report_to": "tensorboard and wandb are extra installs",
    "resume": "needs an interrupted run (tests/test_resume.py)",
    "torch_compile": "compiling takes minutes on a 2-core CPU",
}


def test_every_training_argument_reaches_the_saved_model(registry, files, backbone_dir, tmp_path) -> None:
    fields = {f.name for f in dataclasses.fields(TrainingArgs)}
    assert set(NON_DEFAULTS) | set(NOT_FROM_A_TEST) == fields, "a new TrainingArgs field needs a value here"
    args = []
    for name, value in NON_DEFAULTS.items():
        field = next(f for f in dataclasses.fields(TrainingArgs) if f.name == name)
        assert value != field.default, name
        flag = "--" + name.replace("_", "-")
        args += [flag if value else "--no-" + flag[2:]] if isinstance(value, bool) else [flag, str(value)]
    out = tmp_path / "model"
    code, _, err = invoke("train", "template-classify", "--data", files["good.csv"], "--output", out, "--backbone",
                          backbone_dir, *args)
    assert code == 0, err
    saved = json.loads((out / "tasuki.json").read_text(encoding="utf-8"))["training_args"]
    for name, value in NON_DEFAULTS.items():
        if name in saved:  # resume/progress are not properties of the model
            assert saved[name] == value, name
    assert saved["seed"] == 0 and saved["checkpoints"] is False and saved["save_steps"] == 0


# --- what needs a real process ------------------------------------------------------------


def _cli(*args: str | bytes, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tasuki", *args], input=stdin.encode(), capture_output=True,
                          timeout=300, env={**os.environ, "TASUKI_PLUGINS": "template", "HF_HUB_OFFLINE": "1", **(env or {})})


@pytest.mark.slow
def test_bytes_that_are_not_utf8_on_the_command_line(model_dir: Path) -> None:
    done = _cli(b"predict", str(model_dir).encode(), b"caf\xe9 \xff")
    err = done.stderr.decode()
    assert done.returncode == 2 and "Traceback" not in err, err
    assert "invalid character" in err.strip().splitlines()[-1]


def _remote_code_model(source: Path, target: Path, marker: Path) -> Path:
    directory = _copy_model(source, target)
    (directory / "custom.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    _edit_json(directory / "config.json", lambda c: {**c, "auto_map": {
        "AutoConfig": "custom.Config", "AutoModelForSequenceClassification": "custom.Model"}})
    return directory


@pytest.mark.slow
def test_remote_code_never_runs_without_the_flag(registry, model_dir: Path, files, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    directory = _remote_code_model(model_dir, tmp_path / "remote", marker)
    for args in (["predict", str(directory), "good food"],
                 ["evaluate", str(directory), "--data", str(files["good.csv"])],
                 ["train", "template-classify", "--data", str(files["good.csv"]), "--output", str(tmp_path / "o"),
                  "--backbone", str(directory), "--max-steps", "1"]):
        done = _cli(*args, stdin="y\n")
        err = done.stderr.decode()
        assert done.returncode == 2 and "asks to run its own Python code" in err, (args, err)
        assert "[y/N]" not in done.stdout.decode() + err  # nothing asked on stdin
    with pytest.raises(TasukiError, match="asks to run its own Python code"):
        tasuki.load(directory)
    assert not marker.exists()
