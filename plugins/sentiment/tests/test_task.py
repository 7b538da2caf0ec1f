"""SentimentTask methods driven directly: labels, encoding, metrics, predictions, state."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, Features, Value
from transformers import AutoTokenizer

from tasuki.errors import DataError
from tasuki_sentiment.task import SentimentTask, TruncationWarning


def test_fit_learns_text_labels_in_sorted_order(rows):
    task = SentimentTask()
    task.fit(Dataset.from_list(rows))
    assert task.labels == ["negative", "neutral", "positive"]
    assert task.label_kind == "text"
    assert task.model_config()["id2label"] == {0: "negative", 1: "neutral", 2: "positive"}


def test_fit_uses_classlabel_names_and_accepts_names_or_ints_later():
    features = Features({"text": Value("string"), "label": ClassLabel(names=["positive", "neutral", "negative"])})
    train = Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, 2]}, features=features)
    task = SentimentTask()
    task.fit(train)
    assert task.labels == ["positive", "neutral", "negative"]
    assert task.label_kind == "classlabel"
    task.validate(Dataset.from_list([{"text": "x", "label": "negative"}]), "test.jsonl", with_targets=True)
    task.validate(Dataset.from_list([{"text": "x", "label": 2}]), "test.jsonl", with_targets=True)


def test_plain_integer_labels_become_their_decimal_names():
    task = SentimentTask()
    task.fit(Dataset.from_list([{"text": "a", "label": 5}, {"text": "b", "label": 1}, {"text": "c", "label": 3}]))
    assert task.labels == ["1", "3", "5"]
    # a CSV file has no types: "3" is the same label as 3
    task.validate(Dataset.from_list([{"text": "x", "label": "3"}]), "test.csv", with_targets=True)


def test_encode_maps_labels_and_counts_truncation(bert_dir, rows):
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    task = SentimentTask()
    task.fit(Dataset.from_list(rows))
    batch = {"text": ["i love this film", "good " * 50], "label": ["positive", "negative"]}
    with pytest.warns(TruncationWarning, match=r"max_length=16 tokens are truncated \(1 of the first 2, the longest 52 tokens\)"):
        features = task.encode(batch, tokenizer, max_length=16)
    assert features["labels"] == [2, 0]
    assert len(features["input_ids"][1]) == 16
    assert features["input_ids"][1][-1] == tokenizer.sep_token_id  # the special token survives truncation
    assert features["input_ids"][0] == tokenizer("i love this film")["input_ids"]


def test_metrics_and_postprocess_on_known_logits(rows):
    task = SentimentTask()
    task.fit(Dataset.from_list(rows))  # negative, neutral, positive
    logits = [[3.0, 0.0, 0.0], [0.0, 0.0, 3.0], [0.0, 3.0, 0.0], [0.0, 3.0, 0.0]]
    outputs = [{"logits": np.array(row, dtype=np.float32)} for row in logits]
    features = Dataset.from_dict({"labels": [0, 2, 1, 2]})
    metrics = task.compute_metrics(outputs, features, Dataset.from_dict({"text": ["a"] * 4}))
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["recall/positive"] == pytest.approx(0.5)
    assert metrics["precision/neutral"] == pytest.approx(0.5)
    assert metrics["confusion/positive/neutral"] == 1.0
    assert metrics["confusion/negative/negative"] == 1.0
    from sklearn.metrics import f1_score

    assert metrics["f1_weighted"] == pytest.approx(f1_score([0, 2, 1, 2], [0, 2, 1, 1], average="weighted"))
    predictions = task.postprocess(outputs, features, Dataset.from_dict({"text": ["a"] * 4}))
    assert predictions[0]["label"] == "negative"
    assert set(predictions[0]["scores"]) == {"negative", "neutral", "positive"}
    assert sum(predictions[0]["scores"].values()) == pytest.approx(1.0)
    assert predictions[0]["score"] == pytest.approx(np.exp(3) / (np.exp(3) + 2))


def test_plot_writes_confusion_matrix_png(tmp_path, rows):
    task = SentimentTask()
    task.fit(Dataset.from_list(rows))
    outputs = [{"logits": np.eye(3, dtype=np.float32)[i % 3]} for i in range(6)]
    paths = task.plot(outputs, Dataset.from_dict({"labels": [0, 1, 2, 0, 1, 1]}), Dataset.from_dict({}), tmp_path)
    assert paths == [tmp_path / "confusion_matrix.png"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_state_round_trip_keeps_label_kind():
    task = SentimentTask(lang="ja", labels=["positive", "neutral", "negative"], label_kind="classlabel")
    again = SentimentTask.from_state(task.state())
    assert (again.lang, again.labels, again.label_kind) == ("ja", ["positive", "neutral", "negative"], "classlabel")


def test_unknown_language_is_an_error():
    with pytest.raises(DataError, match="supports languages"):
        SentimentTask(lang="fr")
