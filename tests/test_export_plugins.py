"""ONNX export of every task plugin (tiny models): the export predicts what the torch model predicts.

fp32: raw outputs within 1e-4 of torch, identical labels / entity spans / answers / fill-mask
tokens, scores within 1e-4, sentence vectors at cosine >= 0.9999, the same evaluation metrics.
int8: the head's outputs within ``INT8_TOLERANCE`` of fp32 (see docs/export.md) and vectors at
cosine >= 0.99. The ``scratch`` backbone (attention plugin) exports too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import tasuki
from tasuki.cli import cli
from tasuki.registry import Registry, set_registry
from tasuki.testing import tiny_bert

pytestmark = pytest.mark.integration
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

FP32_TOLERANCE = 1e-4
INT8_TOLERANCE = 0.05
WORDS = ["obama", "paris", "google", "tokyo", "everest", "hillary", "climbed", "capital", "japan", "market"]

SENTIMENT = [{"text": t, "label": lab} for t, lab in [
    ("good movie", "positive"), ("terrible food", "negative"), ("the film was okay", "neutral"),
    ("i love this place", "positive"), ("awful service", "negative"), ("it is a film", "neutral")]] * 2
NER = [{"tokens": t, "tags": g} for t, g in [
    (["Obama", "visited", "Paris", "."], ["B-PER", "O", "B-LOC", "O"]),
    (["Google", "met", "Obama", "in", "Tokyo", "."], ["B-ORG", "O", "B-PER", "O", "B-LOC", "O"])]] * 3
FACTS = [("who climbed everest?", "everest was first climbed by hillary in 1953.", "hillary"),
         ("what is the capital of japan?", "tokyo is the capital of japan.", "tokyo")]
QA = [{"id": str(i), "question": q, "context": c, "answers": {"text": [a], "answer_start": [c.index(a)]}}
      for i, (q, c, a) in enumerate(FACTS)] * 3
PAIRS = [{"text": a, "pair": b} for a, b in [("good movie", "great film"), ("bad food", "terrible food"),
                                             ("tokyo", "capital of japan"), ("obama", "paris")]] * 2
MLM = [{"text": t} for t in ["the market in tokyo was good", "obama visited paris and tokyo",
                             "the film was very good", "google met the people of japan"]] * 3
LONG = "obama visited paris . " * 40  # past max_length: windows, merged back


def _plugin_registry(*names: str) -> Registry:
    import importlib

    return Registry([(n, importlib.import_module(f"tasuki_{n}.plugin")) for n in names], entry_points=False)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    set_registry(_plugin_registry("classify", "sentiment", "ner", "qa", "embedding", "mlm", "attention"))
    path = tmp_path_factory.mktemp("export-plugins")
    tiny_bert(path / "backbone", words=WORDS)
    yield path
    set_registry(None)


def _trained(root: Path, task: str, rows: list[dict], backbone: str | None = None, **options: Any) -> dict[str, Path]:
    out = root / task
    tasuki.train(task, rows, backbone=backbone or str(root / "backbone"), output_dir=out / "torch", max_steps=2,
                 checkpoints=False, progress=False, eval_split=0.0, max_length=32, **options)
    return {"torch": out / "torch", "fp32": tasuki.export(out / "torch", out / "fp32"),
            "int8": tasuki.export(out / "torch", out / "int8", quantize="int8")}


def _same(a: Any, b: Any, tol: float, path: str = "") -> None:
    """Predictions equal: strings and ints exactly, floats within ``tol``, vectors by cosine."""
    if isinstance(a, np.ndarray):
        cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        assert cosine >= 1 - tol, f"{path}: cosine {cosine}"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], tol, f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, tol, f"{path}[{i}]")
    elif isinstance(a, float):
        assert abs(a - b) <= tol, f"{path}: {a} vs {b}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def _raw(model: tasuki.TrainedModel, texts: list[str]) -> dict[str, torch.Tensor]:
    """The head's raw outputs for ``texts`` (padded batch), from torch or ONNX Runtime alike."""
    encoded = dict(model.tokenizer(texts, padding=True, truncation=True, max_length=model.max_length, return_tensors="pt"))
    with torch.inference_mode():
        out = model.model(**encoded)
    return {"output": out} if isinstance(out, torch.Tensor) else dict(out)


def _check(models: dict[str, Path], inputs: list[Any], texts: list[str], evaluate_on: list[dict] | None = None) -> None:
    loaded = {k: tasuki.load(v) for k, v in models.items()}
    reference = _raw(loaded["torch"], texts)
    for name, tol in (("fp32", FP32_TOLERANCE), ("int8", INT8_TOLERANCE)):
        got = _raw(loaded[name], texts)
        assert got.keys() == reference.keys()
        for key, value in reference.items():
            assert (value - got[key]).abs().max() <= tol, f"{name} {key}"
    _same(loaded["torch"].predict(inputs), loaded["fp32"].predict(inputs), FP32_TOLERANCE)
    if evaluate_on is not None:
        expected = loaded["torch"].evaluate(evaluate_on)
        got = loaded["fp32"].evaluate(evaluate_on)
        _same({k: v for k, v in expected.items() if k != "figures"}, {k: v for k, v in got.items() if k != "figures"},
              FP32_TOLERANCE)


def test_sentiment(root: Path) -> None:
    models = _trained(root, "sentiment", SENTIMENT)
    texts = ["good movie", "terrible food and awful service", LONG]
    _check(models, texts, texts, SENTIMENT)


def test_ner_with_windows(root: Path) -> None:
    models = _trained(root, "ner", NER)
    texts = ["Obama visited Paris .", "Google met Obama in Tokyo .", LONG]
    _check(models, texts, texts, NER)


def test_qa_with_windows(root: Path) -> None:
    models = _trained(root, "qa", QA)
    inputs = [{"question": q, "context": c} for q, c, _ in FACTS] + [{"question": "who?", "context": LONG}]
    _check(models, inputs, [c for _, c, _ in FACTS], QA)


def test_embedding_vectors(root: Path) -> None:
    models = _trained(root, "embedding", PAIRS)
    texts = ["good movie", "the capital of japan", LONG]
    _check(models, texts, texts, PAIRS)
    fp32, int8 = tasuki.load(models["fp32"]), tasuki.load(models["int8"])
    _same(fp32.predict(texts), int8.predict(texts), 0.01)  # int8 vectors: cosine >= 0.99


def test_mlm_fill_mask(root: Path) -> None:
    models = _trained(root, "mlm", MLM)
    inputs = ["the market in [MASK] was good", "obama visited [MASK] and [MASK]"]
    _check(models, inputs, ["the market in tokyo was good"], MLM)


def test_scratch_backbone(root: Path) -> None:
    spec = f"scratch:tokenizer={root / 'backbone'},layers=2,hidden=32,heads=4,ffn=64,max_positions=64,seed=1"
    models = _trained(root / "scratch", "sentiment", SENTIMENT, backbone=spec)
    texts = ["good movie", "terrible food and awful service"]
    _check(models, texts, texts, SENTIMENT)


def test_cli_predict_and_evaluate_an_export(root: Path, tmp_path: Path) -> None:
    import json

    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in SENTIMENT), encoding="utf-8")
    runner = CliRunner()
    out = root / "sentiment" / "int8"
    result = runner.invoke(cli, ["predict", str(out), "good movie", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["label"] in {"positive", "neutral", "negative"}
    result = runner.invoke(cli, ["evaluate", str(out), "--data", str(data), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    torch_metrics = tasuki.load(root / "sentiment" / "torch").evaluate(str(data))
    assert abs(metrics["accuracy"] - torch_metrics["accuracy"]) <= 1 / len(SENTIMENT) + 1e-9  # at most one flip
