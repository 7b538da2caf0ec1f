"""Threshold tuning on known scores, with the expected thresholds worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tasuki_classify.thresholds import DEFAULT_THRESHOLD, decide, tune, tune_label


def test_the_worked_example_of_the_module_docstring() -> None:
    # distinct scores high to low 0.9 0.8 0.4 0.3, gold 1 0 1 0: F1 by k = 2/3, 1/2, 4/5, 2/3 -> k=3, (0.4+0.3)/2
    assert tune_label(np.array([0.9, 0.8, 0.4, 0.3]), np.array([1, 0, 1, 0])) == pytest.approx(0.35)


def test_every_example_positive_cuts_halfway_to_zero() -> None:
    # gold all 1: calling all positive gives F1 1 only at k=m; threshold s_m / 2
    assert tune_label(np.array([0.2, 0.6]), np.array([1, 1])) == pytest.approx(0.1)


def test_equal_scores_go_together() -> None:
    # scores 0.7 (gold 1), 0.6 twice (gold 1 and 0), 0.1 (gold 0). k=1: F1 2/3; k=2 (0.6 both in): TP 2, predicted 3,
    # F1 4/5; k=3: 4/6. Best k=2 -> (0.6 + 0.1) / 2
    assert tune_label(np.array([0.7, 0.6, 0.6, 0.1]), np.array([1, 1, 0, 0])) == pytest.approx(0.35)
    # scores 0.9 (gold 1), 0.5 (gold 0): k=1 F1 1, k=2 F1 2/3 -> (0.9 + 0.5) / 2
    assert tune_label(np.array([0.9, 0.5]), np.array([1, 0])) == pytest.approx(0.7)


def test_a_label_without_a_held_out_positive_keeps_the_default() -> None:
    scores = np.array([[0.9, 0.2], [0.1, 0.8], [0.3, 0.6]])
    gold = np.array([[1, 0], [0, 0], [0, 0]])
    thresholds, untuned = tune(scores, gold, ["a", "b"])
    assert thresholds == {"a": pytest.approx(0.6), "b": DEFAULT_THRESHOLD}  # a: k=1 F1 1 -> (0.9 + 0.3) / 2
    assert untuned == ["b"]


def test_decide_uses_each_threshold_or_the_override() -> None:
    scores = np.array([[0.5, 0.4], [0.2, 0.9]])
    assert decide(scores, ["a", "b"], {"a": 0.5, "b": 0.95}, None).tolist() == [[True, False], [False, False]]
    assert decide(scores, ["a", "b"], {"a": 0.5, "b": 0.95}, 0.3).tolist() == [[True, True], [False, True]]
    assert decide(scores, ["a", "b"], {}, None).tolist() == [[True, False], [False, True]]  # 0.5 by default


def test_ties_of_f1_keep_the_higher_threshold() -> None:
    # 0.9 (1), 0.8 (0), 0.7 (0), 0.6 (1), lower ones 0: two positives; k=1: TP 1 of 1 predicted, F1 2/3;
    # k=4: TP 2 of 4 predicted, F1 4/6 = 2/3, a tie: k=1 is kept -> (0.9 + 0.8) / 2
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    assert tune_label(scores, np.array([1, 0, 0, 1, 0, 0, 0])) == pytest.approx(0.85)
