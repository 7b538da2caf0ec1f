"""Train a few steps on tiny models, save, reload with tasuki and with transformers.pipeline; a model saved by
the sentiment task of before the preset still loads and predicts."""

from __future__ import annotations

import json

import pytest
from transformers import pipeline

import tasuki


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory, bert_dir):
    from conftest import NEGATIVE, NEUTRAL, POSITIVE

    rows = [{"text": t, "label": "positive"} for t in POSITIVE]
    rows += [{"text": t, "label": "negative"} for t in NEGATIVE]
    rows += [{"text": t, "label": "neutral"} for t in NEUTRAL]
    out = tmp_path_factory.mktemp("trained")
    # end to end (10 rows a label would choose the few-shot recipe): a model transformers.pipeline loads too
    result = tasuki.train("sentiment", data=rows * 2, backbone=str(bert_dir), output_dir=out, epochs=20,
                          batch_size=8, learning_rate=5e-3, eval_split=0.0, seed=0, progress=False,
                          task_options={"recipe": "standard"})
    return result.output_dir


def test_the_model_records_the_preset(trained_dir):
    meta = json.loads((trained_dir / "tasuki.json").read_text())
    assert meta["task"] == "sentiment" and meta["plugin"]["distribution"] == "tasuki-sentiment"
    assert meta["task_state"]["main_metric"] == "f1_macro"
    model = tasuki.load(trained_dir)
    assert model.task.name == "sentiment" and model.task.preset_of == "classify"


def test_config_has_label_maps(trained_dir):
    config = json.loads((trained_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    assert config["label2id"] == {"negative": 0, "neutral": 1, "positive": 2}
    assert (trained_dir / "model.safetensors").is_file()


def test_reload_predicts_and_learns_the_training_set(trained_dir):
    from conftest import NEGATIVE, NEUTRAL, POSITIVE

    model = tasuki.load(trained_dir)
    texts = POSITIVE + NEGATIVE + NEUTRAL
    predictions = model.predict(texts, batch_size=4)
    gold = ["positive"] * 5 + ["negative"] * 5 + ["neutral"] * 5
    accuracy = sum(p["label"] == g for p, g in zip(predictions, gold)) / len(gold)
    assert accuracy >= 0.8  # 15 distinct sentences, memorised in 20 epochs
    single = model.predict("i love this film")
    assert set(single) == {"label", "score", "scores"} and single["score"] == max(single["scores"].values())


def test_pipeline_gives_the_same_labels_and_scores(trained_dir):
    from conftest import NEGATIVE, NEUTRAL, POSITIVE

    texts = POSITIVE + NEGATIVE + NEUTRAL + ["the meeting was a wonderful horrible film " * 3]
    ours = tasuki.load(trained_dir).predict(texts, batch_size=3)
    theirs = pipeline("text-classification", model=str(trained_dir), device="cpu")(texts)
    assert [p["label"] for p in ours] == [p["label"] for p in theirs]
    assert [p["score"] for p in ours] == pytest.approx([p["score"] for p in theirs], abs=1e-4)


def test_evaluate_reports_metrics_and_writes_the_confusion_matrix(trained_dir, tmp_path):
    from conftest import NEGATIVE, POSITIVE

    rows = [{"text": t, "label": "positive"} for t in POSITIVE] + [{"text": t, "label": "negative"} for t in NEGATIVE]
    metrics = tasuki.evaluate(trained_dir, rows, plots_dir=tmp_path)
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert metrics["support/positive"] == 5 and metrics["support/neutral"] == 0
    assert sum(metrics[f"confusion/positive/{p}"] for p in ("negative", "neutral", "positive")) == 5
    assert (tmp_path / "confusion_matrix.png").is_file()


def test_a_model_saved_by_the_sentiment_task_of_before_the_preset_loads_and_predicts(trained_dir, tmp_path):
    """The old SentimentTask saved ``{"lang", "labels", "options": {}, "label_kind"}`` beside an ordinary
    AutoModelForSequenceClassification (no ``problem_type``); such a directory must keep working."""
    import shutil

    from conftest import NEGATIVE, POSITIVE

    old = tmp_path / "old"
    shutil.copytree(trained_dir, old)
    meta = json.loads((old / "tasuki.json").read_text())
    meta["task_state"] = {"lang": "en", "labels": ["negative", "neutral", "positive"], "options": {}, "label_kind": "text"}
    (old / "tasuki.json").write_text(json.dumps(meta), encoding="utf-8")
    config = json.loads((old / "config.json").read_text())
    config.pop("problem_type", None)
    (old / "config.json").write_text(json.dumps(config), encoding="utf-8")

    model = tasuki.load(old)
    assert model.task.name == "sentiment" and model.task.main_metric == "f1_macro"
    assert model.task.options.windows is False  # it was trained on texts cut at max_length: read them so
    texts = POSITIVE + NEGATIVE
    assert [p["label"] for p in model.predict(texts)] == [p["label"] for p in tasuki.load(trained_dir).predict(texts)]
    rows = [{"text": t, "label": "positive"} for t in POSITIVE] + [{"text": t, "label": "negative"} for t in NEGATIVE]
    assert model.evaluate(rows)["support/positive"] == 5
    # a ClassLabel column's integers meant the label of that index
    meta["task_state"]["label_kind"] = "classlabel"
    (old / "tasuki.json").write_text(json.dumps(meta), encoding="utf-8")
    assert tasuki.load(old).task.class_names == ["negative", "neutral", "positive"]
