"""``sentiment`` is classify's preset: found through the registry, with sentiment's defaults and classify's behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, Features, Value

import tasuki
from tasuki.plugin import DataError
from tasuki.testing import run_cli


def fitted(rows: list[dict]) -> tasuki.Task:
    task = tasuki.make_task("sentiment")
    task.fit(Dataset.from_list(rows))
    return task


def test_sentiment_is_a_preset_of_the_installed_classify_task(sentiment_registry):
    sentiment, classify = sentiment_registry.task("sentiment"), sentiment_registry.task("classify")
    assert issubclass(sentiment, classify) and sentiment.preset_of == "classify"
    assert sentiment.languages == ("en", "ja")
    assert sentiment.default_backbones == {"en": "minilm", "ja": "e5-small"}
    assert sentiment.training_defaults == {"learning_rate": 5e-5, "batch_size": 32, "max_length": 128}
    assert sentiment.single_label_metric == "f1_macro" and classify.single_label_metric is None
    assert sentiment_registry.plugins["sentiment"].presets == ["sentiment"]
    assert not sentiment_registry.broken()


def test_tasuki_tasks_shows_the_preset():
    code, out, _ = run_cli("tasks")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("sentiment "))
    assert "preset of classify; tasuki-sentiment" in line
    code, out, _ = run_cli("tasks", "sentiment")
    assert code == 0 and "preset of classify" in out and "recipe" in out and "multi_label" in out


def test_the_main_metric_is_macro_f1_on_balanced_labels_too(rows):
    task = fitted(rows)  # 10 rows a label: classify alone would pick accuracy
    assert task.main_metric == "f1_macro"
    assert task.options.recipe == "few-shot"  # 10 rows a label: classify's few-shot recipe
    assert fitted([{"text": "x", "label": ["a", "b"]}, {"text": "y", "label": ["b"]}]).main_metric == "f1_micro"


def test_fit_learns_text_labels_in_sorted_order(rows):
    task = fitted(rows)
    assert task.labels == ["negative", "neutral", "positive"]
    assert task.model_config()["id2label"] == {0: "negative", 1: "neutral", 2: "positive"}


def test_fit_uses_classlabel_names_and_accepts_names_or_ints_later():
    features = Features({"text": Value("string"), "label": ClassLabel(names=["positive", "neutral", "negative"])})
    task = tasuki.make_task("sentiment")
    task.fit(Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, 2]}, features=features))
    assert sorted(task.labels) == ["negative", "neutral", "positive"]
    task.validate(Dataset.from_list([{"text": "x", "label": "negative"}]), "test.jsonl", with_targets=True)
    tagged = Dataset.from_dict({"text": ["x"], "label": [2]}, features=features)
    task.validate(tagged, "test.jsonl", with_targets=True)


def test_plain_integer_labels_become_their_decimal_names():
    task = fitted([{"text": "a", "label": 5}, {"text": "b", "label": 1}, {"text": "c", "label": 3}])
    assert task.labels == ["1", "3", "5"]
    # a CSV file has no types: "3" is the same label as 3
    task.validate(Dataset.from_list([{"text": "x", "label": "3"}]), "test.csv", with_targets=True)


def test_metrics_and_postprocess_on_known_logits(rows):
    task = fitted(rows)  # negative, neutral, positive
    logits = [[3.0, 0.0, 0.0], [0.0, 0.0, 3.0], [0.0, 3.0, 0.0], [0.0, 3.0, 0.0]]
    outputs = [{"logits": np.array(row, dtype=np.float32)} for row in logits]
    features = Dataset.from_dict({"labels": [0, 2, 1, 2]})
    examples = Dataset.from_dict({"text": ["a"] * 4})
    metrics = task.compute_metrics(outputs, features, examples)
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["recall/positive"] == pytest.approx(0.5)
    assert metrics["precision/neutral"] == pytest.approx(0.5)
    assert metrics["confusion/positive/neutral"] == 1.0 and metrics["confusion/negative/negative"] == 1.0
    from sklearn.metrics import f1_score

    assert metrics["f1_macro"] == pytest.approx(f1_score([0, 2, 1, 2], [0, 2, 1, 1], average="macro"))
    predictions = task.postprocess(outputs, features, examples)
    assert predictions[0]["label"] == "negative"
    assert set(predictions[0]["scores"]) == {"negative", "neutral", "positive"}
    assert sum(predictions[0]["scores"].values()) == pytest.approx(1.0)
    assert predictions[0]["score"] == pytest.approx(np.exp(3) / (np.exp(3) + 2))


def test_plot_writes_confusion_matrix_png(tmp_path, rows):
    task = fitted(rows)
    outputs = [{"logits": np.eye(3, dtype=np.float32)[i % 3]} for i in range(6)]
    examples = Dataset.from_dict({"text": ["a"] * 6})
    paths = task.plot(outputs, Dataset.from_dict({"labels": [0, 1, 2, 0, 1, 1]}), examples, tmp_path)
    assert paths == [tmp_path / "confusion_matrix.png"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_language_is_an_error():
    with pytest.raises(DataError, match="task 'sentiment' supports languages"):
        tasuki.make_task("sentiment", lang="fr")
