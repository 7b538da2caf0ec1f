"""Every bad input the issue lists gives a clear DataError (source, row, column) or documented behaviour."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset

import tasuki
from tasuki.errors import DataError
from tasuki_sentiment.task import SentimentTask


def fitted(rows) -> SentimentTask:
    task = SentimentTask()
    task.fit(Dataset.from_list(rows))
    return task


def test_unknown_label_in_evaluation_data_names_file_row_and_known_labels(rows):
    task = fitted(rows)
    data = Dataset.from_list([{"text": "fine", "label": "positive"}, {"text": "meh", "label": "mixed"}])
    with pytest.raises(DataError, match=r"test\.csv: row 2, column 'label': unknown label 'mixed'.*negative"):
        task.validate(data, "test.csv", with_targets=True)


def test_missing_label_column(rows):
    task = SentimentTask()
    with pytest.raises(DataError, match=r"train\.csv: missing column 'label': task 'sentiment' needs text, label; "
                       r"found columns: text, stars\. "
                       r"Map yours with --column label=stars"):
        task.validate(Dataset.from_list([{"text": "a", "stars": 1}]), "train.csv", with_targets=True)
    with pytest.raises(DataError, match="training data: missing column 'label'"):
        task.fit(Dataset.from_list([{"text": "a"}]))


def test_prediction_needs_no_label_column(rows):
    fitted(rows).validate(Dataset.from_list([{"text": "a"}]), "input", with_targets=False)


def test_empty_text_names_row(rows):
    task = fitted(rows)
    data = Dataset.from_list([{"text": "ok", "label": "neutral"}, {"text": "   ", "label": "neutral"}])
    with pytest.raises(DataError, match=r"eval\.jsonl: row 2, column 'text': empty text"):
        task.validate(data, "eval.jsonl", with_targets=True)


def test_missing_and_empty_labels_name_row():
    task = SentimentTask()
    with pytest.raises(DataError, match=r"t\.jsonl: row 2, column 'label': missing label"):
        task.validate(Dataset.from_list([{"text": "a", "label": "x"}, {"text": "b", "label": None}]), "t.jsonl",
                      with_targets=True)
    with pytest.raises(DataError, match=r"t\.csv: row 1, column 'label': missing label"):
        task.validate(Dataset.from_list([{"text": "a", "label": " "}]), "t.csv", with_targets=True)


def test_float_labels_are_refused():
    with pytest.raises(DataError, match=r"row 1, column 'label': label 0\.5 is a float"):
        SentimentTask().validate(Dataset.from_list([{"text": "a", "label": 0.5}]), "t", with_targets=True)


def test_single_label_training_set_is_refused():
    with pytest.raises(DataError, match="only one label"):
        SentimentTask().fit(Dataset.from_list([{"text": "a", "label": "positive"}] * 3))


def test_ints_in_train_strings_in_test_is_a_clear_error():
    task = SentimentTask()
    task.fit(Dataset.from_list([{"text": "a", "label": 0}, {"text": "b", "label": 1}, {"text": "c", "label": 2}]))
    data = Dataset.from_list([{"text": "x", "label": "positive"}])
    with pytest.raises(DataError, match=r"test\.jsonl: row 1.*unknown label 'positive'.*text labels but the "
                                        r"training labels were integer"):
        task.validate(data, "test.jsonl", with_targets=True)


def test_strings_in_train_ints_in_test_is_a_clear_error(rows):
    task = fitted(rows)
    with pytest.raises(DataError, match=r"unknown label 1;.*integer labels but the training labels were text"):
        task.validate(Dataset.from_list([{"text": "x", "label": 1}]), "test.jsonl", with_targets=True)


def test_mixed_types_in_one_file_is_a_clear_error(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"text": "a", "label": 1}, {"text": "b", "label": "pos"}]))
    with pytest.raises(DataError, match="mixed.jsonl"):
        tasuki.train("sentiment", data=str(path), backbone="unused", output_dir=tmp_path / "out")


def test_mixed_types_in_a_column_named_by_row():
    # e.g. rows built in Python, before Arrow sees them
    with pytest.raises(DataError, match=r"src: row 3, column 'label': label 'x' is text but row 1 has an integer"):
        from tasuki_sentiment.labels import column_kind

        column_kind([1, 2, "x"], "src", "label", None)


def test_too_long_text_is_truncated_with_a_counting_warning(bert_dir, rows, tmp_path):
    long = " ".join(["wonderful"] * 300)
    data = [*rows, {"text": long, "label": "positive"}]
    with pytest.warns(UserWarning, match=r"longer than max_length=32 tokens are truncated \(1 of the first \d+"):
        tasuki.train("sentiment", data=data, backbone=str(bert_dir), output_dir=tmp_path / "m", max_steps=1,
                     batch_size=8, max_length=32, eval_split=0.0, progress=False)
