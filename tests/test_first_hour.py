"""A new user's first hour: train on a CSV with their own column names, then evaluate and predict a file
without repeating the mapping (it is saved with the model), in English and in Japanese."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasuki.cli import cli
from tasuki.testing import tiny_bert

ENGLISH = [("good movie", "pos"), ("great food", "pos"), ("i love this film", "pos"), ("nice place", "pos"),
           ("bad movie", "neg"), ("terrible food", "neg"), ("i hate this film", "neg"), ("awful place", "neg")]
JAPANESE = [("良い映画", "pos"), ("最高の料理", "pos"), ("良い店", "pos"), ("私は映画が好き", "pos"),
            ("悪い映画", "neg"), ("最低の料理", "neg"), ("悪い店", "neg"), ("私は映画が嫌い", "neg")]


def invoke(*args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("lang, rows", [("en", ENGLISH), ("ja", JAPANESE)])
def test_one_mapping_given_once(lang: str, rows: list[tuple[str, str]], toy_registry, tmp_path: Path) -> None:
    backbone = tiny_bert(tmp_path / "bert", japanese=lang == "ja")
    data = tmp_path / "reviews.csv"
    data.write_text("review,stars\n" + "".join(f"{t},{s}\n" for t, s in rows * 4), encoding="utf-8")
    model = tmp_path / "model"
    invoke("train", "template-classify", "--data", data, "--column", "text=review", "--column", "label=stars",
           "--output", model, "--backbone", backbone, "--epochs", "15", "--batch-size", "8", "--learning-rate", "5e-3",
           "--eval-split", "0", "--no-checkpoints")
    assert json.loads((model / "tasuki.json").read_text(encoding="utf-8"))["columns"] == {"text": "review",
                                                                                         "label": "stars"}
    metrics = json.loads(invoke("evaluate", model, "--data", data, "--json"))  # no --column: the saved mapping
    assert metrics["accuracy"] == 1.0  # 8 distinct, learnable texts, 15 epochs: the training set is learnt
    inputs = tmp_path / "new.csv"
    inputs.write_text("review\n" + "".join(f"{t}\n" for t, _ in rows), encoding="utf-8")
    predictions = json.loads(invoke("predict", model, "--input", inputs, "--json"))
    assert [p["label"] for p in predictions] == [s for _, s in rows]
    already_named = tmp_path / "named.csv"  # a file that already uses the task's names needs no mapping either
    already_named.write_text("text,label\n" + "".join(f"{t},{s}\n" for t, s in rows), encoding="utf-8")
    assert json.loads(invoke("evaluate", model, "--data", already_named, "--json"))["accuracy"] == 1.0


def test_runs_that_cannot_mean_much_are_warned(toy_registry, backbone_dir: str, tmp_path: Path, caplog) -> None:
    import logging

    import tasuki

    rows = [{"text": t, "label": s} for t, s in ENGLISH * 8]  # 64 rows: 13 held out, 2 optimizer steps
    with caplog.at_level(logging.WARNING, logger="tasuki"):
        tasuki.train("template-classify", rows, backbone=backbone_dir, output_dir=tmp_path / "m", epochs=1,
                     eval_split=0.2, learning_rate=1e-6, checkpoints=False, progress=False)
    text = caplog.text
    assert "the evaluation set has only 13 examples" in text
    assert "training took only 2 optimizer steps" in text
    assert "predicts one class for all 13 evaluation examples" in text  # lr 1e-6, 2 steps: the untrained head
