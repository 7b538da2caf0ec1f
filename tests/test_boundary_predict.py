"""Prediction output and export at the boundary (issue 24): exact resume, no silent overwrite, honest opset,
and the int8 quality gate; each case refuses in one line (exit 2) or gives the right result.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

import tasuki
from tasuki.errors import DataError, TasukiError
from tasuki.registry import Registry
from tasuki.testing import run_cli as invoke

POSITIVE = ["good movie", "great food", "nice place", "very good service"]
NEGATIVE = ["bad movie", "terrible food", "awful place", "very bad service"]
ROWS = [{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE]


@pytest.fixture(scope="module")
def model_dir(registry: Registry, backbone_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("boundary-predict") / "model"
    tasuki.train("template-classify", ROWS * 3, backbone=backbone_dir, output_dir=out, max_steps=2, batch_size=4,
                 checkpoints=False, progress=False, eval_split=0)
    return out


@pytest.fixture(scope="module")
def model(model_dir: Path) -> tasuki.TrainedModel:
    return tasuki.load(model_dir, device="cpu")


def assert_clear_error(args: tuple[object, ...], expected: str) -> str:
    code, _, err = invoke(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (args, code, err)
    assert "Traceback" not in err, err
    assert lines and expected in lines[-1], (expected, err)
    return lines[-1]


def texts(n: int) -> list[str]:
    words = [*POSITIVE, *NEGATIVE]
    return [f"{words[i % len(words)]} {i}" for i in range(n)]


def write_text_file(path: Path, n: int) -> Path:
    path.write_text("".join(t + "\n" for t in texts(n)), encoding="utf-8")
    return path


def rows_of(path: Path) -> list[int]:
    return [json.loads(line)["row"] for line in path.read_text(encoding="utf-8").splitlines()]


def assert_same_predictions(got: Path, expected: Path) -> None:
    """Row for row the same (scores to float precision: another batching pads differently)."""
    ours, theirs = ([json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()] for p in (got, expected))
    assert [r["row"] for r in ours] == [r["row"] for r in theirs]
    assert [r["prediction"]["label"] for r in ours] == [r["prediction"]["label"] for r in theirs]
    assert [r["prediction"]["score"] for r in ours] == pytest.approx([r["prediction"]["score"] for r in theirs])


# --- 1. --resume is exact whatever the chunk size ---------------------------------------------------------


def _stopped_run(model: tasuki.TrainedModel, source: Path, out: Path, chunk_size: int, chunks: int,
                 monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run ``predict_file`` until Ctrl-C in chunk ``chunks + 1``; return the ``.partial`` it left."""
    real = model.predict
    calls = {"n": 0}

    def stops(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > chunks:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "predict", stops)
    with pytest.raises(KeyboardInterrupt):
        model.predict_file(source, out, chunk_size=chunk_size, progress=False)
    monkeypatch.setattr(model, "predict", real)
    return out.with_name(out.name + ".partial")


@pytest.mark.parametrize("second_chunk", [7, 40, 100])
def test_resume_with_another_chunk_size_writes_each_row_once(model, second_chunk: int, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_text_file(tmp_path / "in.txt", 100)
    full = tmp_path / "full.jsonl"
    model.predict_file(source, full, chunk_size=100, progress=False)
    out = tmp_path / "out.jsonl"
    partial = _stopped_run(model, source, out, chunk_size=15, chunks=2, monkeypatch=monkeypatch)  # rows 1-30 written
    assert rows_of(partial) == list(range(1, 31))
    assert model.predict_file(source, out, chunk_size=second_chunk, resume=True, progress=False) == 70
    assert rows_of(out) == list(range(1, 101))
    assert_same_predictions(out, full)


def test_resume_after_a_torn_chunk_and_a_torn_line(model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_text_file(tmp_path / "in.txt", 60)
    full = tmp_path / "full.jsonl"
    model.predict_file(source, full, progress=False)
    out = tmp_path / "out.jsonl"
    partial = _stopped_run(model, source, out, chunk_size=20, chunks=1, monkeypatch=monkeypatch)
    # the stop came while the second chunk was being written: 5 of its lines and half of the sixth are on disk
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    with open(partial, "a", encoding="utf-8") as handle:
        handle.write("".join(lines[20:25]) + lines[25][:9])
    code, _, err = invoke("predict", model.directory, "--input", source, "--output", out, "--resume",
                          "--chunk-size", "20")
    assert code == 0, err
    assert "35 rows predicted" in err
    assert_same_predictions(out, full)


def test_resume_refuses_the_rows_of_another_model(model, backbone_dir: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows 1-20 by one model, the rest by another, in one file: refused, the partial output kept as it was."""
    source = write_text_file(tmp_path / "in.txt", 50)
    out = tmp_path / "out.jsonl"
    partial = _stopped_run(model, source, out, chunk_size=20, chunks=1, monkeypatch=monkeypatch)
    before = partial.read_text(encoding="utf-8")
    other = tasuki.train("template-classify", ROWS * 3, backbone=backbone_dir, output_dir=tmp_path / "other",
                         max_steps=3, batch_size=4, learning_rate=1e-2, checkpoints=False, progress=False,
                         eval_split=0, seed=7)
    with pytest.raises(DataError, match=r"out.jsonl.partial: row 20 was predicted otherwise .* another model"):
        tasuki.load(other.output_dir, device="cpu").predict_file(source, out, chunk_size=20, resume=True,
                                                                 progress=False)
    assert partial.read_text(encoding="utf-8") == before and not out.exists()
    assert model.predict_file(source, out, chunk_size=7, resume=True, progress=False) == 30  # its own model goes on


def test_resume_refuses_a_partial_file_of_other_rows(model, tmp_path: Path) -> None:
    source = write_text_file(tmp_path / "in.txt", 30)
    out = tmp_path / "out.jsonl"
    out.with_name("out.jsonl.partial").write_text('{"row": 4, "prediction": 1}\n{"row": 9, "prediction": 1}\n')
    with pytest.raises(DataError, match="out.jsonl.partial: line 2 is row 9, not row 2"):
        model.predict_file(source, out, resume=True, progress=False)
    assert not out.exists()


def test_resume_of_a_finished_output_predicts_nothing(model, tmp_path: Path) -> None:
    source = write_text_file(tmp_path / "in.txt", 12)
    out = tmp_path / "out.jsonl"
    model.predict_file(source, out, progress=False)
    before = out.read_text(encoding="utf-8")
    assert model.predict_file(source, out, resume=True, progress=False) == 0
    assert out.read_text(encoding="utf-8") == before


# --- 2. --output never replaces a file that is not tasuki's own output --------------------------------------


def test_predict_refuses_to_replace_a_data_file(model, tmp_path: Path) -> None:
    source = write_text_file(tmp_path / "in.txt", 5)
    data = tmp_path / "train.jsonl"
    data.write_text('{"text": "good", "label": "pos"}\n', encoding="utf-8")
    line = assert_clear_error(("predict", model.directory, "--input", source, "--output", data), "--overwrite")
    assert str(data) in line and "not the output of tasuki predict" in line
    assert data.read_text(encoding="utf-8") == '{"text": "good", "label": "pos"}\n'
    assert_clear_error(("predict", model.directory, "--input", source, "--output", data, "--resume"), "--overwrite")
    with pytest.raises(DataError, match="overwrite=True"):
        model.predict_file(source, data, progress=False)
    assert data.read_text(encoding="utf-8") == '{"text": "good", "label": "pos"}\n'
    assert not list(tmp_path.glob("*.partial*"))
    code, _, err = invoke("predict", model.directory, "--input", source, "--output", data, "--overwrite")
    assert code == 0, err
    assert rows_of(data) == [1, 2, 3, 4, 5]
    # its own earlier output is replaced by a new run, as a re-run of the same command expects
    source = write_text_file(tmp_path / "in.txt", 3)
    assert model.predict_file(source, data, progress=False) == 3
    assert rows_of(data) == [1, 2, 3]
    assert model.predict_file(write_text_file(tmp_path / "in.txt", 2), tmp_path / "a.jsonl", overwrite=True,
                              progress=False) == 2


def test_an_output_named_as_another_format_is_refused(model, tmp_path: Path) -> None:
    """JSON lines written into ``predicted.json`` would be read as garbage: refused, nothing written (a ``.csv``
    or ``.tsv`` output is a table: ``tests/test_predict_tables.py``)."""
    source = write_text_file(tmp_path / "in.txt", 3)
    line = assert_clear_error(("predict", model.directory, "--input", source, "--output", tmp_path / "predicted.json"),
                              "JSON lines")
    assert "not JSON; name it predicted.jsonl or predicted.csv" in line
    for suffix in (".Parquet", ".xlsm", ".ods", ".npy"):
        with pytest.raises(DataError, match=f"not {suffix[1:].upper()}; name it p.jsonl or p.csv"):
            model.predict_file(source, tmp_path / f"p{suffix}", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]
    assert model.predict_file(source, tmp_path / "predictions", progress=False) == 3  # no suffix: JSON lines


# --- 5. --opset is honoured or refused --------------------------------------------------------------------


def test_export_opset_is_honoured_or_refused(model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    from tasuki.onnx_export import OPSETS, ExportError, export

    for given in ("9", "1", "17", "99"):
        line = assert_clear_error(("export", model_dir, "--output", tmp_path / "o", "--opset", given), "opset")
        assert f"{OPSETS[0]} to {OPSETS[-1]}" in line and given in line
    with pytest.raises(ExportError, match=r"opset=1 is not allowed; allowed: an integer from 18 to"):
        export(model_dir, tmp_path / "o", opset=1)
    with pytest.raises(ExportError, match="opset='18'"):
        export(model_dir, tmp_path / "o", opset="18")
    with pytest.raises(ExportError, match=r"per_channel='no' is not allowed; allowed: True or False"):
        export(model_dir, tmp_path / "o", quantize="int8", per_channel="no")  # was per channel, recorded as "no"
    assert not (tmp_path / "o").exists()
    out = export(model_dir, tmp_path / "o", opset=OPSETS[1])
    import onnx

    graph = onnx.load(str(out / "model.onnx"))
    assert next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) == OPSETS[1]


# --- 6. the int8 quality gate -----------------------------------------------------------------------------


@pytest.fixture
def eval_file(tmp_path: Path) -> Path:
    path = tmp_path / "eval.csv"
    path.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in ROWS), encoding="utf-8")
    return path


def _scores(monkeypatch: pytest.MonkeyPatch, fp32: float, int8: float) -> None:
    """The torch model scores ``fp32``, any ONNX export ``int8`` (the evaluation itself is TrainedModel's)."""
    from tasuki.prediction.runtimes import OnnxModel

    real = tasuki.TrainedModel.evaluate

    def evaluate(self, data, **kwargs):
        metrics = real(self, data, **kwargs)
        return {**metrics, "accuracy": int8 if isinstance(self.model, OnnxModel) else fp32}

    monkeypatch.setattr(tasuki.TrainedModel, "evaluate", evaluate)


def test_quality_gate_refuses_an_int8_export_that_drops_too_much(model_dir: Path, eval_file: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxscript")
    _scores(monkeypatch, fp32=0.9, int8=0.85)
    out = tmp_path / "int8"
    line = assert_clear_error(("export", model_dir, "--output", out, "--quantize", "int8", "--eval-data", eval_file),
                              "accuracy")
    assert "0.9000" in line and "0.8500" in line and "0.0500" in line and "max_drop 0.01" in line
    assert list(tmp_path.iterdir()) == [eval_file]  # nothing published, nothing staged left behind
    onnx_export = importlib.import_module("tasuki.onnx_export")
    with pytest.raises(onnx_export.ExportError, match="drops by 0.0500"):
        tasuki.export(model_dir, out, quantize="int8", eval_data=eval_file, max_drop=0.02)
    assert not out.exists()
    # a drop within --max-drop publishes, with both figures recorded
    code, stdout, err = invoke("export", model_dir, "--output", out, "--quantize", "int8", "--eval-data", eval_file,
                               "--max-drop", "0.06")
    assert code == 0, err
    gate = json.loads((out / "tasuki.json").read_text(encoding="utf-8"))["quality_gate"]
    assert gate["metric"] == "accuracy" and gate["source"] == 0.9 and gate["export"] == 0.85
    assert gate["max_drop"] == 0.06 and gate["data"] == str(eval_file)
    assert "accuracy 0.9000 -> 0.8500" in stdout


def test_quality_gate_on_a_real_evaluation_and_its_arguments(model_dir: Path, eval_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    out = tasuki.export(model_dir, tmp_path / "int8", quantize="int8", eval_data=eval_file, max_drop=1.0)
    gate = json.loads((out / "tasuki.json").read_text(encoding="utf-8"))["quality_gate"]
    assert gate["source"] == pytest.approx(tasuki.load(model_dir).evaluate(eval_file)["accuracy"])
    assert gate["export"] == pytest.approx(tasuki.load(out).evaluate(eval_file)["accuracy"])
    folder = tmp_path / "eval"  # label folders are evaluation data too
    for number, row in enumerate(ROWS):
        (folder / row["label"]).mkdir(parents=True, exist_ok=True)
        (folder / row["label"] / f"{number:03}.txt").write_text(row["text"], encoding="utf-8")
    code, _, err = invoke("export", model_dir, "--output", tmp_path / "checked", "--eval-data", folder, "--max-drop", "1")
    assert code == 0, err
    assert_clear_error(("export", model_dir, "--output", tmp_path / "o", "--max-drop", "0.1"), "--max-drop needs --eval-data")
    assert_clear_error(("export", model_dir, "--output", tmp_path / "o", "--quantize", "int8", "--eval-data", eval_file,
                        "--max-drop", "-0.1"), "max_drop")
    with pytest.raises(TasukiError, match="max_drop=nan is not allowed"):
        tasuki.export(model_dir, tmp_path / "o", eval_data=eval_file, max_drop=float("nan"))
    assert not (tmp_path / "o").exists()


def test_prediction_reads_no_labels(model, tmp_path: Path) -> None:
    """A file to predict may hold a label column: a test set's, another label set's, or a blank one to fill in.
    Prediction read it as training would, refusing the whole file for an unknown or empty label."""
    expected = model.predict(["good movie", "bad food"])
    rows = [{"text": "good movie", "label": "great"}, {"text": "bad food", "label": ""}]
    assert model.predict(rows) == expected
    source = tmp_path / "with_labels.csv"
    source.write_text("text,label\ngood movie,great\nbad food,\n", encoding="utf-8")
    assert model.predict_file(source, tmp_path / "out.jsonl", progress=False) == 2
    written = [json.loads(line)["prediction"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert written == json.loads(json.dumps(expected))
