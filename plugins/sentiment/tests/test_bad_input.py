"""Bad input to ``sentiment`` is refused in one line (source, row, column), as classify refuses it."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset

import tasuki
from tasuki.plugin import DataError
from tasuki.testing import refusal


def fitted(rows) -> tasuki.Task:
    task = tasuki.make_task("sentiment")
    task.fit(Dataset.from_list(rows))
    return task


def test_unknown_label_in_evaluation_data_names_file_row_and_known_labels(rows):
    task = fitted(rows)
    data = Dataset.from_list([{"text": "fine", "label": "positive"}, {"text": "meh", "label": "mixed"}])
    with pytest.raises(DataError, match=r"test\.csv: row 2, column 'label': unknown label 'mixed'.*negative"):
        task.validate(data, "test.csv", with_targets=True)


def test_missing_label_column(rows):
    task = tasuki.make_task("sentiment")
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
    task = tasuki.make_task("sentiment")
    with pytest.raises(DataError, match=r"t\.jsonl: row 2, column 'label': missing label"):
        task.validate(Dataset.from_list([{"text": "a", "label": "x"}, {"text": "b", "label": None}]), "t.jsonl",
                      with_targets=True)
    with pytest.raises(DataError, match=r"t\.csv: row 1, column 'label': missing label"):
        task.validate(Dataset.from_list([{"text": "a", "label": " "}]), "t.csv", with_targets=True)


def test_single_label_training_set_is_refused():
    with pytest.raises(DataError, match=r"has labels \['positive'\]; need at least two"):
        tasuki.make_task("sentiment").fit(Dataset.from_list([{"text": "a", "label": "positive"}] * 3))


def test_text_labels_against_integer_training_labels_name_the_known_ones():
    task = fitted([{"text": "a", "label": 0}, {"text": "b", "label": 1}, {"text": "c", "label": 2}])
    data = Dataset.from_list([{"text": "x", "label": "positive"}])
    with pytest.raises(DataError, match=r"test\.jsonl: row 1, column 'label': unknown label 'positive'; the model "
                                        r"knows \['0', '1', '2'\]"):
        task.validate(data, "test.jsonl", with_targets=True)


def test_a_bad_file_is_refused_in_one_line_by_the_cli(tmp_path, bert_dir):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"text": "a", "label": "pos"}, {"text": "b", "label": None}]))
    line = refusal("train", "sentiment", "--data", path, "--backbone", bert_dir, "--output", tmp_path / "out")
    assert "bad.jsonl" in line and "row 2" in line and "missing label" in line
    assert not (tmp_path / "out").exists()


def test_a_bad_option_is_refused_in_one_line_by_the_cli(tmp_path, bert_dir, rows):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    line = refusal("train", "sentiment", "--data", path, "--backbone", bert_dir, "--output", tmp_path / "out",
                   "--option", "recipe=fewshot")
    assert "option of task 'sentiment' 'recipe'" in line and "few-shot" in line


def test_too_long_text_is_truncated_with_a_counting_warning(bert_dir, rows, tmp_path):
    long = " ".join(["wonderful"] * 300)
    data = [*rows, {"text": long, "label": "positive"}]
    with pytest.warns(UserWarning, match=r"longer than max_length=32 tokens are truncated \(1 of the first \d+"):
        tasuki.train("sentiment", data=data, backbone=str(bert_dir), output_dir=tmp_path / "m", max_steps=1,
                     batch_size=8, max_length=32, eval_split=0.0, progress=False,
                     task_options={"windows": False, "recipe": "standard"})
