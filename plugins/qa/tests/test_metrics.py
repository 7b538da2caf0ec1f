"""SQuAD EM/F1 against the official script's behaviour, ja character F1, HasAns/NoAns and thresholds."""

from __future__ import annotations

import itertools
import random

import pytest

from tasuki_qa.metrics import (
    best_threshold,
    exact_match,
    f1_score,
    normalize_answer,
    normalize_answer_ja,
    squad_v2_metrics,
)


def test_official_normalization() -> None:
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an Apple, a day") == "apple day"
    assert normalize_answer("Theory") == "theory"  # "the" only as a whole word


def test_exact_and_token_f1() -> None:
    assert exact_match("the Nile", "Nile") == 1
    assert f1_score("the White Nile", "the Blue Nile") == pytest.approx(0.5)
    # precision 1/3, recall 1/1 -> 0.5
    assert f1_score("Edmund Hillary climbed", "Hillary") == pytest.approx(0.5)
    assert f1_score("", "") == 1.0 and f1_score("x", "") == 0.0 and f1_score("", "x") == 0.0


def test_japanese_is_scored_by_characters() -> None:
    assert normalize_answer_ja("東京 都。") == "東京都"
    assert exact_match("東京都", "東京都。", lang="ja") == 1
    # whitespace tokens would give 0 (one "word" each); characters give 2*(2/3*2/2)/(2/3+1) = 0.8
    assert f1_score("東京都", "東京", lang="ja") == pytest.approx(0.8)
    assert f1_score("東京都", "東京", lang="en") == 0.0


def test_has_answer_and_no_answer_breakdown() -> None:
    preds = ["Edmund Hillary", "", "1953", "Paris"]
    refs = [["Edmund Hillary", "Hillary"], [], ["29 May 1953"], []]
    m = squad_v2_metrics(preds, refs)
    assert m["HasAns_total"] == 2 and m["NoAns_total"] == 2
    assert m["HasAns_exact"] == 50.0
    assert m["HasAns_f1"] == pytest.approx(100 * (1 + 0.5) / 2)
    assert m["NoAns_exact"] == 50.0 and m["NoAns_f1"] == 50.0
    assert m["exact"] == 50.0


def _brute_force(preds, scores, na, has):
    """Try every threshold (all scores and -inf): the total when abstaining where na > t."""
    best = None
    for t in [min(na) - 1, *na]:
        total = sum((0.0 if has[i] else 1.0) if na[i] > t else (scores[i] if preds[i] else float(not has[i]))
                    for i in range(len(na)))
        best = total if best is None else max(best, total)
    return 100 * best / len(na)


def test_best_threshold_matches_exhaustive_search() -> None:
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 8)
        has = [rng.random() < 0.6 for _ in range(n)]
        preds = ["x" if rng.random() < 0.8 else "" for _ in range(n)]
        # what a prediction scores against its gold: a span on an unanswerable question scores 0
        scores = [(rng.choice([0.0, 0.5, 1.0]) if has[i] else 0.0) if preds[i] else float(not has[i])
                  for i in range(n)]
        na = [round(rng.uniform(-1, 1), 2) for _ in range(n)]
        best, thresh = best_threshold(preds, scores, na, has)
        assert best == pytest.approx(_brute_force(preds, scores, na, has))
        # the returned threshold reproduces the best score
        applied = [(0.0 if has[i] else 1.0) if na[i] > thresh else (scores[i] if preds[i] else float(not has[i]))
                   for i in range(n)]
        assert 100 * sum(applied) / n == pytest.approx(best)


def test_threshold_in_metrics() -> None:
    preds = ["x", "y", "z"]
    refs = [["x"], [], ["z"]]
    m = squad_v2_metrics(preds, refs, no_answer_scores=[-0.5, 0.4, 0.1])
    assert m["exact"] == pytest.approx(200 / 3)
    assert m["best_exact"] == 100.0
    assert 0.1 <= m["best_exact_thresh"] < 0.4
    assert list(itertools.islice(m, 2)) == ["exact", "f1"]


def test_threshold_search_can_answer_what_the_model_abstained_on() -> None:
    # both predictions are "" (null won), but the best spans are right: a lower threshold answers them
    m = squad_v2_metrics(["", ""], [["Hillary"], ["1953"]], no_answer_scores=[0.2, 0.3],
                         span_predictions=["Hillary", "1953"])
    assert m["exact"] == 0.0 and m["best_exact"] == 100.0 and m["best_exact_thresh"] >= 0.3
