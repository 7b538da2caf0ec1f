"""Streaming prediction over files: chunks in input order, atomic output, resume, column mapping, 2 processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import tasuki
from conftest import NEGATIVE, POSITIVE
from tasuki.errors import DataError
from tasuki.registry import Registry, set_registry
from tasuki_template import plugin as toy_plugin


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, backbone_dir: str) -> Path:
    registry = Registry([("toy", toy_plugin)], entry_points=False)
    set_registry(registry)
    out = tmp_path_factory.mktemp("stream") / "model"
    rows = [{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE]
    tasuki.train("template-classify", rows * 4, backbone=backbone_dir, output_dir=out, max_steps=3, batch_size=8,
                 learning_rate=3e-3, checkpoints=False, eval_split=0, progress=False)
    set_registry(None)
    return out


@pytest.fixture
def model(model_dir: Path, toy_registry: Registry) -> tasuki.TrainedModel:
    return tasuki.load(model_dir, device="cpu")


def texts(n: int) -> list[str]:
    words = [*POSITIVE, *NEGATIVE]
    return [f"{words[i % len(words)]} {'very ' * (i % 5)}{i}" for i in range(n)]


def write_csv(path: Path, column: str, values: list[str]) -> Path:
    # a quoted comma and a line break inside a cell: csv.reader, not line splitting
    path.write_text(f"id,{column}\n" + "".join(f'{i},"{v}"\n' for i, v in enumerate(values)), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_predictions_in_input_order_across_chunks(model: tasuki.TrainedModel, tmp_path: Path) -> None:
    values = texts(230)
    values[7] = 'good, "great" food\nsecond line'
    source = write_csv(tmp_path / "in.csv", "text", [v.replace('"', '""') for v in values])
    out = tmp_path / "out.jsonl"
    assert model.predict_file(source, out, chunk_size=64, batch_size=16, progress=False) == 230
    got = read_jsonl(out)
    assert [g["row"] for g in got] == list(range(1, 231))
    expected = model.predict(values, batch_size=7)
    assert [g["prediction"]["label"] for g in got] == [p["label"] for p in expected]
    assert [g["prediction"]["score"] for g in got] == pytest.approx([p["score"] for p in expected], abs=1e-5)
    assert not list(tmp_path.glob("*.partial*"))  # renamed into place, nothing left behind


def test_resume_keeps_written_rows_and_predicts_the_rest(model: tasuki.TrainedModel, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts(100)), encoding="utf-8")
    full = tmp_path / "full.jsonl"
    model.predict_file(source, full, chunk_size=30, progress=False)
    out = tmp_path / "out.jsonl"
    real = model.predict
    calls = {"n": 0}

    def stops_after_two_chunks(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the user presses Ctrl-C in the third chunk
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "predict", stops_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        model.predict_file(source, out, chunk_size=30, progress=False)
    partial = tmp_path / "out.jsonl.partial"
    assert not out.exists() and len(read_jsonl(partial)) == 60
    with open(partial, "a", encoding="utf-8") as handle:
        handle.write('{"row": 61, "predic')  # a line torn by the stop: predicted again
    monkeypatch.setattr(model, "predict", real)
    assert model.predict_file(source, out, chunk_size=30, resume=True, progress=False) == 40
    assert out.read_text(encoding="utf-8") == full.read_text(encoding="utf-8")
    # a partial file longer than the input belongs to another input
    partial.write_text(full.read_text(encoding="utf-8") * 2, encoding="utf-8")
    with pytest.raises(DataError, match="another input"):
        model.predict_file(source, out, chunk_size=30, resume=True, progress=False)


def test_columns_map_from_the_file_or_the_model(model: tasuki.TrainedModel, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", "review", texts(20))
    with pytest.raises(DataError, match="missing column .text..*found columns: id, review"):
        model.predict_file(source, tmp_path / "a.jsonl", progress=False)
    model.predict_file(source, tmp_path / "a.jsonl", columns={"text": "review"}, progress=False)
    model.metadata["columns"] = {"text": "review"}  # what training with --column text=review saves
    model.predict_file(source, tmp_path / "b.jsonl", progress=False)
    assert read_jsonl(tmp_path / "a.jsonl") == read_jsonl(tmp_path / "b.jsonl")
    assert len(read_jsonl(tmp_path / "b.jsonl")) == 20


def test_bad_rows_are_named_by_their_place_in_the_file(model: tasuki.TrainedModel, tmp_path: Path) -> None:
    values = texts(50)
    values[41] = "   "
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in values), encoding="utf-8")
    with pytest.raises(DataError, match=r"in.jsonl: row 42, column 'text': empty text"):
        model.predict_file(source, tmp_path / "out.jsonl", chunk_size=10, progress=False)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good food\nbad \xff food\n")
    with pytest.raises(DataError, match="line 2: cannot decode byte 0xff"):
        model.predict_file(bad, tmp_path / "out.jsonl", progress=False)


def test_cli_streams_to_a_file_and_prints_a_readable_table(model_dir: Path, toy_registry: Registry,
                                                          tmp_path: Path) -> None:
    from tasuki.cli import cli

    source = write_csv(tmp_path / "in.csv", "review", texts(12))
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["predict", str(model_dir), "--input", str(source), "--output", str(out),
                                      "--column", "text=review", "--chunk-size", "5"])
    assert result.exit_code == 0, result.output
    assert [r["row"] for r in read_jsonl(out)] == list(range(1, 13))
    result = CliRunner().invoke(cli, ["predict", str(model_dir), "good food", "a\nlong text " * 20])
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert first.startswith("good food ") and first.split()[-2] in ("pos", "neg")
    assert float(first.split()[-1]) <= 1.0 and "{" not in first  # label and score, not a dict repr
    assert second.startswith("a long text") and "…" in second
    result = CliRunner().invoke(cli, ["predict", str(model_dir), "good", "--resume"])
    assert result.exit_code == 2 and "--resume" in result.output


@pytest.mark.slow
def test_two_processes_write_one_output_in_input_order(model_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("".join(t + "\n" for t in texts(257)), encoding="utf-8")
    single = tmp_path / "single.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TASUKI_PLUGINS": "template", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "tasuki", "predict", str(model_dir), "--input", str(source),
                           "--output", str(single), "--chunk-size", "20"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    double = tmp_path / "double.jsonl"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           "29541", "-m", "tasuki", "predict", str(model_dir), "--input", str(source), "--output",
                           str(double), "--chunk-size", "20"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got, expected = read_jsonl(double), read_jsonl(single)
    assert [g["row"] for g in got] == list(range(1, 258))
    assert [g["prediction"]["label"] for g in got] == [e["prediction"]["label"] for e in expected]
    assert [g["prediction"]["score"] for g in got] == pytest.approx([e["prediction"]["score"] for e in expected])
    assert not list(tmp_path.glob("*.partial*"))


def test_read_dataset_streams_into_a_cached_arrow_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasuki.data import read_dataset, read_file

    monkeypatch.setenv("TASUKI_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "in.csv"
    source.write_text('\ufefftext , label\r\n' + '"hi, there",pos\r\n  ,  \r\n"multi\nline",neg\r\n' * 3,
                      encoding="utf-8")
    first = read_dataset(source, batch_rows=4)  # several batches into one file
    assert first.to_list() == read_file(source).to_list() and len(first) == 6
    (cached,) = (tmp_path / "cache" / "data").glob("*.arrow")
    written = cached.stat().st_mtime_ns
    again = read_dataset(source)
    assert cached.stat().st_mtime_ns == written and again._fingerprint == first._fingerprint
    source.write_text("text,label\nchanged,pos\n", encoding="utf-8")  # a changed file is read again
    assert read_dataset(source).to_list() == [{"text": "changed", "label": "pos"}]
    # so is an unchanged file after a reader changed in place (an editable install after a pull, same version)
    from tasuki.data import cache

    monkeypatch.setattr(cache, "reader_code", lambda: "another reader")
    read_dataset(source)
    assert len(list((tmp_path / "cache" / "data").glob("in-*.arrow"))) == 3
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"text": "x", "label": 1}\n{"text": "y", "label": "neg"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="rows 2-2: columns must keep one type"):
        read_dataset(mixed, batch_rows=1)
