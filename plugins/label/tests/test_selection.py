"""The selection on hand-made embeddings and probabilities, with the picks computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tasuki_label.selection import margins, select

# three groups of directions (rows are normalised before k-means): x (rows 0-2), y (rows 3-6), z (rows 7-9);
# in each group the row on the axis is the one nearest the centre (the others are symmetric around it)
EMBEDDINGS = np.array([
    [1, 0, 0], [1, 0.2, 0], [1, -0.2, 0],
    [0, 1, 0.2], [0, 1, 0], [0, 1, -0.2], [0, 1, 0],
    [0.2, 0, 1], [0, 0, 1], [-0.2, 0, 1],
], dtype=float)
PROBS = np.array([
    [0.9, 0.05, 0.05], [0.5, 0.4, 0.1], [0.6, 0.3, 0.1],  # margins 0.85, 0.1, 0.3
    [0.4, 0.35, 0.25], [0.34, 0.33, 0.33], [0.8, 0.1, 0.1], [0.7, 0.2, 0.1],  # 0.05, 0.01, 0.7, 0.5
    [0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.45, 0.1, 0.45],  # 0.2, 0.7, 0.0
])


def test_margins_by_hand() -> None:
    assert margins(PROBS) == pytest.approx([0.85, 0.1, 0.3, 0.05, 0.01, 0.7, 0.5, 0.2, 0.7, 0.0])
    # multi-label: the label nearest 0.5 decides, |2p - 1|
    assert margins(np.array([[0.9, 0.1], [0.6, 0.99], [0.5, 1.0]]), multi_label=True) == pytest.approx([0.8, 0.2, 0.0])
    assert margins(np.array([[1.0], [0.7]])) == pytest.approx([1.0, 1.0])  # one known class: nothing to doubt
    # multi-label with the model's thresholds (0.2, 0.8): each side of a threshold scaled to [0, 1]
    cuts = np.array([0.2, 0.8])
    # row 1: 0.6 is (0.6-0.2)/0.8 = 0.5 above its cut, 0.7 is (0.8-0.7)/0.8 = 0.125 below its: 0.125
    # row 2: 0.1 is 0.5 below, 0.9 is 0.5 above: 0.5; row 3: on a threshold, in doubt: 0.0
    assert margins(np.array([[0.6, 0.7], [0.1, 0.9], [0.2, 1.0]]), True, cuts) == pytest.approx([0.125, 0.5, 0.0])
    # at 0.5 the same as |2p - 1|; thresholds of 0 and 1 divide by nothing
    assert margins(np.array([[0.9, 0.1]]), True, np.array([0.5, 0.5])) == pytest.approx([0.8])
    assert margins(np.array([[0.3, 0.6]]), True, np.array([0.0, 1.0])) == pytest.approx([0.3])


def test_diverse_takes_the_text_nearest_each_centre_biggest_cluster_first() -> None:
    picks = select(EMBEDDINGS, 3, "diverse", seed=0)
    assert [p.index for p in picks] == [4, 0, 8]  # y has 4 rows; row 6 equals row 4, the lower row wins the tie
    assert len({p.cluster for p in picks}) == 3
    assert all(p.margin is None for p in picks)


def test_uncertainty_takes_the_least_sure_of_each_cluster_not_the_least_sure_overall() -> None:
    picks = select(EMBEDDINGS, 3, "uncertainty", probs=PROBS, seed=0)
    # overall the three least sure are rows 9, 4 and 3; rows 3 and 4 share a cluster, so row 1 is asked instead
    assert [p.index for p in picks] == [9, 4, 1]
    assert [p.margin for p in picks] == pytest.approx([0.0, 0.01, 0.1])
    assert [p.index for p in select(EMBEDDINGS, 3, "uncertainty", probs=PROBS, seed=7)] == [9, 4, 1]  # any seed


def test_typical_covers_the_clusters_without_labels_with_their_densest_text() -> None:
    # a text labelled near x: x's cluster is covered, so the two picks come from y (4 rows) then z (3 rows); in each
    # the densest row: row 4 (row 6 equals it: the lower row wins the tie) and row 8, between its two neighbours
    labelled = np.array([[1.0, 0.1, 0.0]])
    picks = select(EMBEDDINGS, 2, "typical", labelled=labelled, seed=0)
    assert [p.index for p in picks] == [4, 8]
    assert all(p.margin is None for p in picks)
    # nothing labelled: three clusters, the largest (y) first, then the densest rows of x and z
    picks = select(EMBEDDINGS, 3, "typical", seed=0)
    assert picks[0].index == 4 and {p.index for p in picks} == {0, 4, 8}
    assert len({p.cluster for p in picks}) == 3


def test_typical_passes_over_an_outlier() -> None:
    # one cluster: three texts close together and one far off; the densest of the close ones is asked
    points = np.array([[1.0, 0.0], [1.0, 0.1], [1.0, -0.1], [0.3, 1.0]])
    assert [p.index for p in select(points, 1, "typical", labelled=np.zeros((0, 2)), seed=0)] == [0]


def test_random_is_seeded_and_distinct() -> None:
    first = [p.index for p in select(EMBEDDINGS, 5, "random", seed=3)]
    assert first == [p.index for p in select(EMBEDDINGS, 5, "random", seed=3)]
    assert first == list(np.random.default_rng(3).permutation(10)[:5])
    assert len(set(first)) == 5
    assert [p.index for p in select(EMBEDDINGS, 5, "random", seed=4)] != first


def test_k_at_least_the_candidates_returns_every_one() -> None:
    assert sorted(p.index for p in select(EMBEDDINGS, 50, "diverse")) == list(range(10))
    picks = select(EMBEDDINGS, 10, "uncertainty", probs=PROBS)
    assert [p.index for p in picks] == [9, 4, 3, 1, 7, 2, 6, 5, 8, 0]  # least sure first (stable on 0.7 ties)
    assert select(EMBEDDINGS[:0], 3, "diverse") == []


def test_duplicates_fill_the_clusters_kmeans_leaves_empty() -> None:
    points = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 3)  # two distinct points, seven rows
    picks = select(points, 4, "diverse", seed=0)
    assert len(picks) == 4 and len({p.index for p in picks}) == 4
    assert {tuple(points[p.index]) for p in picks} == {(1.0, 0.0), (0.0, 1.0)}


@pytest.mark.parametrize(("k", "strategy", "probs", "message"), [
    (0, "diverse", None, "k: 0 is not allowed"),
    (3, "entropy", None, "strategy 'entropy'"),
    (3, "uncertainty", None, "needs the model's probabilities"),
    (3, "uncertainty", PROBS[:4], "10 embeddings but 4 rows"),
])
def test_refusals(k: int, strategy: str, probs: np.ndarray | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select(EMBEDDINGS, k, strategy, probs=probs)


def test_typical_with_a_models_guesses_keeps_the_labels_shares() -> None:
    # three groups: A near x (rows 0-3), B near y (4-6), C near z (7-9); the densest row of each is on its axis
    points = np.array([[1, 0, 0], [1, 0.2, 0], [1, -0.2, 0], [1, 0, 0.2],
                       [0, 1, 0], [0.2, 1, 0], [-0.2, 1, 0],
                       [0, 0, 1], [0.2, 0, 1], [-0.2, 0, 1]], dtype=float)
    probs = np.array([[0.8, 0.2]] * 7 + [[0.3, 0.7]] * 3)  # the model guesses label 0 for A and B, 1 for C
    labelled = np.array([[0.0, 0.1, 1.0]])  # one text labelled near C, with label 0
    # without the guesses: C is covered, so the two largest uncovered groups, A then B (both guessed 0)
    assert [p.index for p in select(points, 2, "typical", labelled=labelled, seed=0)] == [0, 4]
    # with them: the candidates' shares are 0.7 / 0.3; with the labelled text (label 0) counted, label 1 is
    # furthest below its share (0.3 * 2 - 0 = 0.6 against 0.7 * 2 - 1 = 0.4): C's densest text, though C is
    # covered; then label 0 (0.7 * 3 - 1 = 1.1 against 0.3 * 3 - 1 = -0.1): A, the largest uncovered group
    picks = select(points, 2, "typical", labelled=labelled, seed=0, probs=probs, labelled_classes=np.array([0]))
    assert [p.index for p in picks] == [7, 0]
    # multi-label scores have no one guess a text: the shares are not kept
    multi = select(points, 2, "typical", labelled=labelled, seed=0, probs=probs, multi_label=True,
                   labelled_classes=np.array([0]))
    assert [p.index for p in multi] == [0, 4]
