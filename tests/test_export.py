"""ONNX export (core, toy task): parity with torch, int8 within tolerance, the CLI, and clean refusals."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import tasuki
from tasuki.cli import cli
from tasuki.errors import CheckpointError, TasukiError
from tasuki.onnx_export import ExportError, export
from tasuki.prediction.runtimes import MissingExtraError, OnnxModel, intra_op_threads, physical_cores
from tasuki.registry import Registry, set_registry
from tasuki_template import plugin as toy_plugin

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

FP32_TOLERANCE = 1e-4
INT8_TOLERANCE = 0.05
"""Largest |int8 - fp32| logit difference allowed on the tiny model (measured: ~0.01; docs/export.md)."""
BATCH_TOLERANCE = 1e-4
"""Largest int8 logit change of a text between alone and in a padded batch (float noise of the padding)."""
TEXTS = ["good movie", "terrible food", "i love this film and the food and the service was very good", "awful",
         "nice place, great day, but the people were not very nice and the time was bad"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry([("toy", toy_plugin)], entry_points=False)


@pytest.fixture(autouse=True)
def _toy(registry: Registry) -> None:
    set_registry(registry)
    yield
    set_registry(None)


@pytest.fixture(scope="module")
def trained(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import NEGATIVE, POSITIVE
    from tasuki.testing import tiny_bert

    set_registry(registry)
    root = tmp_path_factory.mktemp("export")
    rows = ([{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE]) * 4
    backbone = tiny_bert(root / "backbone")
    # trained until the labels differ between texts (as in test_cli): identical labels then mean something
    tasuki.train("template-classify", rows, backbone=str(backbone), output_dir=root / "model", epochs=8,
                 learning_rate=3e-3, batch_size=8, checkpoints=False, progress=False, eval_split=0.0)
    (root / "data.csv").write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows), "utf-8")
    return root / "model"


@pytest.fixture(scope="module")
def exports(trained: Path) -> dict[str, Path]:
    root = trained.parent
    return {"fp32": export(trained, root / "onnx"), "int8": export(trained, root / "int8", quantize="int8")}


def _logits(model: tasuki.TrainedModel, texts: list[str]) -> np.ndarray:
    encoded = model.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        return model.model(**encoded).logits.numpy()


def test_fp32_export_matches_torch(trained: Path, exports: dict[str, Path]) -> None:
    torch_model, onnx_model = tasuki.load(trained), tasuki.load(exports["fp32"])
    assert isinstance(onnx_model.model, OnnxModel)
    assert np.abs(_logits(torch_model, TEXTS) - _logits(onnx_model, TEXTS)).max() < FP32_TOLERANCE
    ours, theirs = onnx_model.predict(TEXTS), torch_model.predict(TEXTS)
    assert [p["label"] for p in ours] == [p["label"] for p in theirs]
    assert len({p["label"] for p in theirs}) == 2  # the model tells texts apart: agreement is not by default
    assert all(abs(a["score"] - b["score"]) < FP32_TOLERANCE for a, b in zip(ours, theirs))
    assert onnx_model.evaluate(trained.parent / "data.csv") == pytest.approx(torch_model.evaluate(trained.parent /
                                                                                                  "data.csv"))


def test_dynamic_batch_and_sequence_axes(trained: Path, exports: dict[str, Path]) -> None:
    torch_model, onnx_model = tasuki.load(trained).model, tasuki.load(exports["fp32"]).model
    for batch, length in [(1, 1), (1, 3), (7, 40), (3, 128)]:
        ids = torch.randint(5, 60, (batch, length))
        mask = torch.ones_like(ids)
        mask[0, length // 2 + 1:] = 0
        with torch.inference_mode():
            expected = torch_model(input_ids=ids, attention_mask=mask).logits
        got = onnx_model(input_ids=ids, attention_mask=mask).logits  # token_type_ids left out: zeros
        assert got.shape == (batch, 2)
        assert (got - expected).abs().max() < FP32_TOLERANCE


def test_int8_within_documented_tolerance(trained: Path, exports: dict[str, Path]) -> None:
    fp32, int8 = tasuki.load(exports["fp32"]), tasuki.load(exports["int8"])
    assert np.abs(_logits(fp32, TEXTS) - _logits(int8, TEXTS)).max() < INT8_TOLERANCE
    metadata = json.loads((exports["int8"] / "tasuki.json").read_text("utf-8"))
    assert metadata["quantization"]["dtype"] == "int8" and metadata["quantization"]["per_channel"] is True
    assert metadata["quantization"]["bytes_int8"] < metadata["quantization"]["bytes_fp32"]
    import onnx

    ops = {node.op_type for node in onnx.load(str(exports["int8"] / "model.onnx")).graph.node}
    assert "MatMulIntegerToFloat" in ops and "MatMul" in ops  # the weights really are int8 (attention: fp32)


def test_int8_per_tensor_weights_within_tolerance(trained: Path, exports: dict[str, Path], tmp_path: Path) -> None:
    # --per-tensor: one weight scale per matrix instead of per output column
    per_tensor = tasuki.load(export(trained, tmp_path / "per-tensor", quantize="int8", per_channel=False))
    assert np.abs(_logits(tasuki.load(exports["fp32"]), TEXTS) - _logits(per_tensor, TEXTS)).max() < INT8_TOLERANCE
    assert not np.allclose(_logits(per_tensor, TEXTS), _logits(tasuki.load(exports["int8"]), TEXTS))
    quantization = json.loads((tmp_path / "per-tensor" / "tasuki.json").read_text("utf-8"))["quantization"]
    assert quantization["per_channel"] is False and quantization["weights"] == "int8, symmetric, per matrix"


def test_int8_scores_do_not_depend_on_the_batch(exports: dict[str, Path]) -> None:
    # activations get one scale per token: a text scores the same alone and padded among longer texts (one scale
    # per batch, as ONNX Runtime's quantize_dynamic gives, moved these logits by 1e-3)
    int8 = tasuki.load(exports["int8"])
    alone = np.concatenate([_logits(int8, [text]) for text in TEXTS])
    assert np.abs(_logits(int8, TEXTS) - alone).max() < BATCH_TOLERANCE


def test_export_metadata_and_files(trained: Path, exports: dict[str, Path]) -> None:
    out = exports["fp32"]
    metadata = json.loads((out / "tasuki.json").read_text("utf-8"))
    assert metadata["runtime"] == "onnx" and metadata["quantization"] is None
    assert metadata["source"]["directory"] == str(trained.resolve())
    assert metadata["onnx"]["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert metadata["onnx"]["outputs"] == ["logits"] and metadata["onnx"]["max_abs_diff"] < FP32_TOLERANCE
    assert {"model.onnx", "config.json", "tokenizer.json", "tasuki.json"} <= {p.name for p in out.iterdir()}
    assert not list(out.parent.glob(".onnx.*"))  # no staging directory left behind


def test_cli_export_predict_evaluate(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli-int8"
    code, text = run("export", str(trained), "--output", str(out), "--quantize", "int8", "--json")
    assert code == 0, text
    summary = json.loads(text)
    assert summary["quantization"] == "int8" and summary["task"] == "template-classify"
    code, text = run("predict", str(out), *TEXTS[:2], "--json")
    assert code == 0, text
    assert [p["label"] for p in json.loads(text)] == [p["label"] for p in tasuki.load(trained).predict(TEXTS[:2])]
    code, text = run("evaluate", str(out), "--data", str(trained.parent / "data.csv"), "--json")
    assert code == 0, text
    assert json.loads(text)["accuracy"] == pytest.approx(tasuki.load(trained).evaluate(trained.parent /
                                                                                        "data.csv")["accuracy"])


def test_a_damaged_graph_is_refused_and_told_to_export_again(exports: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "damaged"
    shutil.copytree(exports["fp32"], copy)
    graph = copy / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:-10])  # was told to "train it again"
    with pytest.raises(CheckpointError, match="model.onnx does not match its tasuki.json .* export it again$"):
        tasuki.load(copy)


def test_reexport_replaces_an_earlier_export(trained: Path, exports: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "again"
    shutil.copytree(exports["int8"], out)
    # an earlier export may be replaced; tasuki.export is the function (the module is tasuki.onnx_export)
    assert tasuki.export is export
    tasuki.export(trained, out)
    assert json.loads((out / "tasuki.json").read_text("utf-8"))["quantization"] is None
    assert tasuki.load(out).predict("good movie")["label"] == tasuki.load(trained).predict("good movie")["label"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]  # the old one and the staging are gone


def test_refuses_a_directory_that_holds_something_else(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine", "utf-8")
    with pytest.raises(ExportError, match=r"not empty.*notes\.txt"):
        export(trained, out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    code, text = run("export", str(trained), "--output", str(out))
    assert code == 2 and "refusing to overwrite" in text and "Traceback" not in text
    with pytest.raises(ExportError, match="model directory itself"):
        export(trained, trained)


def test_bad_inputs_are_one_clear_line(trained: Path, exports: dict[str, Path], tmp_path: Path) -> None:
    code, text = run("export", str(tmp_path / "missing"), "--output", str(tmp_path / "o"))
    assert code == 2 and "no such model directory" in text and "Traceback" not in text
    (tmp_path / "plain").mkdir()
    with pytest.raises(CheckpointError, match="not a complete tasuki model"):
        export(tmp_path / "plain", tmp_path / "o")
    with pytest.raises(ExportError, match="already an ONNX export"):
        export(exports["fp32"], tmp_path / "o")
    with pytest.raises(ExportError, match="quantize='int4'"):
        export(trained, tmp_path / "o", quantize="int4")
    assert not (tmp_path / "o").exists()


def test_missing_extra(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # importing it now raises ImportError
    with pytest.raises(MissingExtraError, match=r"onnxscript: pip install 'tasuki\[onnx\]'"):
        export(trained, tmp_path / "o")
    code, text = run("export", str(trained), "--output", str(tmp_path / "o"))
    assert code == 2 and "tasuki[onnx]" in text


def test_a_failed_export_leaves_nothing(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("tasuki.onnx_export")  # the module; ``tasuki.export`` is the function

    def broken(*args: object, **kwargs: object) -> None:
        (args[5]).write_bytes(b"half a graph")  # the staged model.onnx
        raise ExportError("simulated failure")

    monkeypatch.setattr(module, "_torch_export", broken)
    with pytest.raises(ExportError, match="simulated"):
        export(trained, tmp_path / "o", quantize="int8")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_architectures_are_named() -> None:
    from tasuki.onnx_export import _describe_outputs, _input_names, _torch_export

    class NoIds(torch.nn.Module):
        def forward(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
            return inputs_embeds

    class Branchy(torch.nn.Module):  # control flow on values: torch.export cannot trace it
        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return input_ids.float() if int(input_ids.sum()) > 3 else -input_ids.float()

    class Strings(torch.nn.Module):
        def forward(self, input_ids: torch.Tensor) -> str:
            return "no tensors"

    tokenizer = type("T", (), {"model_input_names": ["input_ids", "attention_mask"]})()
    with pytest.raises(ExportError, match="NoIds.forward takes no input_ids"):
        _input_names(NoIds(), tokenizer)
    batch = {"input_ids": torch.ones(2, 3, dtype=torch.long)}
    with pytest.raises(ExportError, match="Strings returns str"):
        _describe_outputs(Strings(), batch)
    with pytest.raises(ExportError, match="Branchy does not export to ONNX") as caught:
        _torch_export(Branchy(), batch, ("input_ids",), ["output"], "tensor", Path("/nonexistent/x.onnx"), None)
    assert "\n" not in str(caught.value)


def test_thread_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASUKI_ONNX_THREADS", raising=False)
    assert 1 <= physical_cores() <= len(__import__("os").sched_getaffinity(0))
    assert intra_op_threads() == physical_cores()
    monkeypatch.setenv("TASUKI_ONNX_THREADS", "3")
    assert intra_op_threads() == 3
    monkeypatch.setenv("TASUKI_ONNX_THREADS", "many")
    with pytest.raises(TasukiError, match="TASUKI_ONNX_THREADS='many'"):
        intra_op_threads()
