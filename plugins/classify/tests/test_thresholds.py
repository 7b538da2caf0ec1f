"""Threshold tuning on known scores, with the expected thresholds worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tasuki_classify.thresholds import DEFAULT_THRESHOLD, decide, tune, tune_label


def test_the_worked_example_of_the_module_docstring() -> None:
    # distinct scores high to low 0.9 0.8 0.4 0.3, gold 1 0 1 0: F1 by k = 2/3, 1/2, 4/5, 2/3 -> k=3, (0.4+0.3)/2;
    # within one standard error (0.283) of 0.8: 0.85, 0.35, 0.15, and 0.35 is the nearest 0.5
    for within_noise in (False, True):
        assert tune_label(np.array([0.9, 0.8, 0.4, 0.3]), np.array([1, 0, 1, 0]),
                          within_noise=within_noise) == pytest.approx(0.35)


def test_a_label_whose_best_is_within_noise_of_half_keeps_half() -> None:
    # 0.9 (1) 0.7 (1) 0.55 (0) 0.3 (1) 0.2 (0) 0.1 (0), 3 positives. F1 by k (threshold): 1/2 (0.8), 4/5 (0.625),
    # 4/6 (0.425), 6/7 (0.25), 6/8 (0.15), 6/9 (0.05); at 0.5: 4/6. The argmax is 0.25; its standard error
    # sqrt(6/7 * 1/7 / 3) = 0.202 admits every F1 >= 0.655, 0.5 among them, and 0.5 is nearest itself
    scores, gold = np.array([0.9, 0.7, 0.55, 0.3, 0.2, 0.1]), np.array([1, 1, 0, 1, 0, 0])
    assert tune_label(scores, gold, within_noise=False) == pytest.approx(0.25)
    assert tune_label(scores, gold) == DEFAULT_THRESHOLD


def test_a_label_whose_scores_never_reach_half_still_moves() -> None:
    # a sparse label after a short run: 0.3 (1) 0.25 (1) 0.2 (0) 0.1 (0) 0.05 (0). F1 by k: 2/3, 1 (0.225), 4/5,
    # 4/6, 4/7; none at 0.5. F1 1 has no standard error: only 0.225 qualifies
    assert tune_label(np.array([0.3, 0.25, 0.2, 0.1, 0.05]), np.array([1, 1, 0, 0, 0])) == pytest.approx(0.225)


def test_every_example_positive_cuts_halfway_to_zero() -> None:
    # gold all 1: calling all positive gives F1 1 only at k=m (0.5 keeps one: 2/3); threshold s_m / 2
    assert tune_label(np.array([0.2, 0.6]), np.array([1, 1])) == pytest.approx(0.1)


def test_equal_scores_go_together() -> None:  # the argmax alone (ties of scores are the point here)
    # scores 0.7 (gold 1), 0.6 twice (gold 1 and 0), 0.1 (gold 0). k=1: F1 2/3; k=2 (0.6 both in): TP 2, predicted 3,
    # F1 4/5; k=3: 4/6. Best k=2 -> (0.6 + 0.1) / 2
    assert tune_label(np.array([0.7, 0.6, 0.6, 0.1]), np.array([1, 1, 0, 0]), within_noise=False) == pytest.approx(0.35)
    # scores 0.9 (gold 1), 0.5 (gold 0): k=1 F1 1, k=2 F1 2/3 -> (0.9 + 0.5) / 2
    assert tune_label(np.array([0.9, 0.5]), np.array([1, 0]), within_noise=False) == pytest.approx(0.7)


def test_a_label_without_a_held_out_positive_keeps_the_default() -> None:
    scores = np.array([[0.9, 0.2], [0.1, 0.8], [0.3, 0.6]])
    gold = np.array([[1, 0], [0, 0], [0, 0]])
    thresholds, untuned = tune(scores, gold, ["a", "b"], within_noise=False)
    assert thresholds == {"a": pytest.approx(0.6), "b": DEFAULT_THRESHOLD}  # a: k=1 F1 1 -> (0.9 + 0.3) / 2
    thresholds, untuned = tune(scores, gold, ["a", "b"])
    assert thresholds == {"a": DEFAULT_THRESHOLD, "b": DEFAULT_THRESHOLD}  # a: 0.5 also has F1 1, and is nearest
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
    assert tune_label(scores, np.array([1, 0, 0, 1, 0, 0, 0]), within_noise=False) == pytest.approx(0.85)
    # within noise: the standard error sqrt(2/3 * 1/3 / 2) = 0.333 admits every F1 >= 1/3, 0.5 among them (it keeps
    # 0.9 .. 0.5: TP 2 of 5, F1 4/7), and 0.5 is nearest itself
    assert tune_label(scores, np.array([1, 0, 0, 1, 0, 0, 0])) == DEFAULT_THRESHOLD


def test_given_thresholds_are_kept_and_the_other_labels_tuned() -> None:
    # label a: the worked example above (0.35); label b: no positive, so the default; a given threshold of a wins
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.3], [0.3, 0.4]])
    gold = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    assert tune(scores, gold, ["a", "b"]) == (pytest.approx({"a": 0.35, "b": DEFAULT_THRESHOLD}), ["b"])
    assert tune(scores, gold, ["a", "b"], fixed={"a": 0.9}) == ({"a": 0.9, "b": DEFAULT_THRESHOLD}, ["b"])
    assert tune(scores, gold, ["a", "b"], fixed={"b": 0.2}) == (pytest.approx({"a": 0.35, "b": 0.2}), [])
