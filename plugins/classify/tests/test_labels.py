"""Reading label values, class weights and the skew rule (no model)."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from tasuki.plugin import DataError, SettingError
from tasuki_classify import labels as rules


def read(value, separator=None):
    return rules.read_row(value, 3, "data.csv", "label", separator)


def test_scalars_lists_and_split_strings() -> None:
    assert read(" sports ") == "sports"
    assert read(2) == "2" and read(2.0) == "2"
    # a CSV cell "2.0" (pandas wrote an integer column with gaps) is the class "2", as JSON's 2.0 is
    assert read("2.0") == "2" and read(" -1.00 ") == "-1" and read("2.5") == "2.5" and read("02") == "02"
    assert read("1.0|2", "|") == ["1", "2"] and read(["1.0", 1]) == ["1"]
    assert read(["a", " b", "a"]) == ["a", "b"]
    assert read([]) == []
    assert read("a| b|", "|") == ["a", "b"]
    assert read(None, "|") == [] and read(math.nan, "|") == [] and read("", "|") == []
    assert read("a|b") == "a|b"  # no separator declared: one label, nothing guessed
    assert read(True) == "True" and read(False) == "False" and read([True]) == ["True"]  # as pandas writes a CSV


@pytest.mark.parametrize("value, words", [
    ({"a": 1}, "label {'a': 1} is a dict"), (None, "missing label"),
    (math.nan, "missing label"), ("  ", "missing label"), ([["a"]], "list item ['a'] is not a label"),
    ([None], "list item None"),
    # what pandas, R and spreadsheets write for an empty cell was a class of its own (read by pandas: refused)
    ("nan", "label 'nan' is how a missing value is written"), (" N/A ", "label ' N/A ' is how a missing value"),
    ("None", "label 'None' is how"), (["pos", "NaN"], "label 'NaN' is how"), ("null", "label 'null' is how"),
])
def test_bad_values_are_refused_naming_row_and_column(value, words) -> None:
    with pytest.raises(DataError, match=r"^data.csv: row 3, column 'label': ") as caught:
        read(value)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_single_label_task_refuses_a_list_of_two() -> None:
    assert rules.as_set(["a"], False, 1, "s", "label") == ["a"]
    assert rules.as_set([], True, 1, "s", "label") == []
    with pytest.raises(DataError, match=r"row 4, column 'label': 2 labels \['a', 'b'\] in a single-label task"):
        rules.as_set(["a", "b"], False, 4, "s", "label")


def test_skew_is_over_three_times() -> None:
    assert not rules.is_skewed(Counter(a=30, b=10), ["a", "b"])
    assert rules.is_skewed(Counter(a=31, b=10), ["a", "b"])
    assert rules.is_skewed(Counter(a=3), ["a", "b"])  # a given label without rows


def test_class_weights() -> None:
    assert rules.parse_weights("balanced") == "balanced"
    assert rules.parse_weights("spam=4, ham=0.5") == {"spam": 4.0, "ham": 0.5}
    # scikit-learn's balanced rule: 8 rows, 2 labels -> 8/(2*6), 8/(2*2)
    assert rules.weight_vector("balanced", ["a", "b"], Counter(a=6, b=2)) == pytest.approx([2 / 3, 2.0])
    assert rules.weight_vector({"b": 3.0}, ["a", "b"], Counter(a=1, b=1)) == [1.0, 3.0]
    for bad in ("spam", "spam=0", "spam=-1", "spam=x", "=2", "a=1,a=2"):
        with pytest.raises(SettingError, match="'class_weights'"):
            rules.parse_weights(bad)
    with pytest.raises(SettingError, match=r"labels \['c'\] are not in the training labels"):
        rules.weight_vector({"c": 2.0}, ["a", "b"], Counter(a=1, b=1))


def test_fit_reads_class_label_names_numbers_and_forced_multi_label() -> None:
    from datasets import ClassLabel, Dataset, Features, Value

    from tasuki_classify.task import ClassifyTask

    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    data = Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 1, 1]}, features=features)
    task = ClassifyTask()
    task.validate(data, "hub", with_targets=True)
    task.fit(data)
    assert task.labels == ["neg", "pos"] and not task.multi_label and task.class_names == ["neg", "pos"]
    assert task.encode({"text": ["a"], "label": [1]}, _Tokenizer(), 8)["labels"] == [1]
    assert ClassifyTask.from_state(task.state()).class_names == ["neg", "pos"]
    numbers = Dataset.from_dict({"text": ["a", "b"], "label": [3, 5]})
    task = ClassifyTask(multi_label=True)  # scalars, each a one-label set
    task.fit(numbers)
    assert task.labels == ["3", "5"] and task.multi_label and task.main_metric == "f1_micro"
    assert task.encode({"text": ["a"], "label": [5]}, _Tokenizer(), 8)["labels"] == [[0.0, 1.0]]
    with pytest.raises(DataError, match=r"evaluation: row 2, column 'label': unknown label '4'"):
        task.validate(Dataset.from_dict({"text": ["a", "b"], "label": [3, 4]}), "evaluation", with_targets=True)


def test_lists_of_class_label_integers_are_named_item_by_item() -> None:
    """go_emotions' layout: a list of ClassLabel integers per row. Each integer is its own label, named by the
    column's names (a list [1, 0] once lost its 0: each item was looked up among the row's earlier items)."""
    from datasets import ClassLabel, Dataset, Features, List, Value

    from tasuki_classify.task import ClassifyTask

    assert rules.read_row([1, 0], 1, "s", "label", None) == ["1", "0"]
    assert rules.read_row([1, 0, 1], 1, "s", "label", None, ["neg", "pos"]) == ["pos", "neg"]
    names = ["anger", "joy", "neutral"]
    features = Features({"text": Value("string"), "label": List(ClassLabel(names=names))})
    data = Dataset.from_dict({"text": ["a", "b", "c", "d"], "label": [[1, 0], [2], [], [0, 1]]}, features=features)
    task = ClassifyTask()
    task.fit(data)
    assert task.multi_label and task.labels == names
    assert task.encode({"text": ["a"], "label": [[1, 0]]}, _Tokenizer(), 8)["labels"] == [[1.0, 1.0, 0.0]]


class _Tokenizer:
    """Just enough of a tokenizer for encode(): one id per character."""

    def __call__(self, texts, truncation=False, max_length=None):
        return {"input_ids": [[1] * len(t) for t in texts], "attention_mask": [[1] * len(t) for t in texts]}


def test_strata_are_each_rows_rarest_label() -> None:
    rows = [["sports"], ["sports", "politics"], [], ["politics"], ["sports"], ["weather", "sports"]]
    # counts: sports 4, politics 2, weather 1
    assert rules.strata(rows) == ["sports", "politics", "", "politics", "sports", "weather"]


def test_labels_that_differ_only_in_case_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.WARNING):
        rules.warn_about_case_twins(Counter({"positive": 300, "Positive": 12, "negative": 200}))
    assert "labels 'Positive' and 'positive' differ only in case (12 and 300 rows)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        rules.warn_about_case_twins(Counter({"positive": 3, "negative": 2}))
    assert not caplog.text


def test_macro_f1_averages_the_labels_in_the_data_or_the_predictions() -> None:
    """A test set without a label counted that label's F1 as 0: 7 sports rows all right scored macro F1 0.25 of
    four labels, the main metric of a skewed or sentiment task."""
    import numpy as np

    from tasuki_classify.metrics import multi_label, single_label

    labels = ["food", "politics", "sports", "tech"]
    right = single_label(np.array([2] * 7), np.array([2] * 7), labels)
    assert right["f1_macro"] == 1.0 and right["accuracy"] == 1.0
    assert "f1/food" not in right and right["support/food"] == 0.0  # nothing to score, not a 0
    # a label predicted but never true still counts (its F1 is 0), as scikit-learn's default
    wrong = single_label(np.array([2, 2, 2, 1]), np.array([2, 2, 0, 1]), labels)
    assert wrong["f1_macro"] == pytest.approx((0.0 + 1.0 + 0.8) / 3) and wrong["f1/food"] == 0.0
    # multi-label: no label in the data and none predicted is perfect agreement, not an F1 of 0
    empty = multi_label(np.zeros((3, 4)), np.zeros((3, 4)), labels)
    assert empty["f1_micro"] == empty["f1_macro"] == empty["subset_accuracy"] == 1.0
    one = multi_label(np.array([[0, 0, 1, 0]]), np.array([[0, 0, 1, 0]]), labels)
    assert one["f1_macro"] == 1.0 and one["f1_micro"] == 1.0 and set(k for k in one if k.startswith("f1/")) == {"f1/sports"}
