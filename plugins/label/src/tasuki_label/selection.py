"""What to label next: a diverse sample, uncertainty within clusters, or random.

Everything here works on arrays, so it is tested with hand-made embeddings and probabilities:

- ``diverse`` (no model yet): k-means of the sentence embeddings into ``k`` clusters, and in each cluster
  the text nearest its centre: one typical text of each region of the pool.
- ``uncertainty`` (a model): the same ``k`` clusters, and in each the text the model is least sure of
  (the smallest margin); near-duplicates share a cluster, so they are not asked twice in one round.
- ``typical`` (with or without a model; TypiClust, Hacohen et al. 2022, for small labelling budgets): k-means of
  the labelled and the candidate texts together into (labelled + ``k``) clusters; each pick comes from the
  cluster with the fewest labelled texts (the largest first) and is its most typical text (the densest: the
  smallest mean distance to its nearest neighbours in the cluster). It covers what is not yet labelled with
  texts that stand for many others, and never asks for outliers.
- ``random``: a seeded uniform sample, the baseline the others are measured against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasuki_label import STRATEGIES


@dataclass(frozen=True)
class Pick:
    """One text to label next: its row in the candidates, its cluster (-1 for random) and the model's margin."""

    index: int
    cluster: int
    margin: float | None = None


def margins(probs: np.ndarray, multi_label: bool = False, thresholds: np.ndarray | None = None) -> np.ndarray:
    """How sure the model is of each row, 0 (unsure) to 1 (sure).

    Single-label: the top probability minus the second. Multi-label (a sigmoid per label): the label nearest
    its threshold ``t`` (``thresholds``, ``(C,)``; 0.5 when not given) decides, each side of ``t`` scaled to
    [0, 1]: ``(p - t) / (1 - t)`` above it, ``(t - p) / t`` below (``|2 p - 1|`` at 0.5), so a row with one
    label in doubt is in doubt, as the model decides it.
    """
    probs = np.asarray(probs, dtype=np.float64)  # (N, C)
    if probs.ndim != 2 or probs.shape[1] < 1:
        raise ValueError(f"probabilities: expected an (N, C) array, got shape {probs.shape}")
    if multi_label:
        cut = np.full(probs.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        above = (probs - cut) / np.maximum(1.0 - cut, 1e-12)
        below = (cut - probs) / np.maximum(cut, 1e-12)
        return np.where(probs >= cut, above, below).min(axis=1)
    if probs.shape[1] == 1:  # one class known so far: nothing to choose between
        return np.ones(len(probs))
    top2 = -np.sort(-probs, axis=1)[:, :2]  # (N, 2)
    return top2[:, 0] - top2[:, 1]


def clusters(embeddings: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means of the L2-normalised rows: ``(cluster of each row (N,), centres (k, D))``."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    points = normalised(embeddings)
    with warnings.catch_warnings():  # fewer distinct texts than k: the empty clusters are filled by select
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(points)
    return fitted.labels_, fitted.cluster_centers_


def normalised(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), so that distances compare directions."""
    points = np.asarray(embeddings, dtype=np.float64)  # (N, D)
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.where(norms == 0, 1.0, norms)


def select(embeddings: np.ndarray, k: int, strategy: str, *, probs: np.ndarray | None = None,
           multi_label: bool = False, thresholds: np.ndarray | None = None, seed: int = 0,
           labelled: np.ndarray | None = None, labelled_classes: np.ndarray | None = None) -> list[Pick]:
    """The ``k`` candidates to label next (all of them when there are at most ``k``), best first.

    :param embeddings: ``(N, D)`` sentence embeddings of the candidates (texts already labelled left out).
    :param probs: ``(N, C)`` the model's class probabilities; required by ``uncertainty``.
    :param thresholds: ``(C,)`` multi-label: the model's threshold of each label (see :func:`margins`).
    :param labelled: ``(M, D)`` embeddings of the texts labelled so far (same encoder), read by ``typical``.
    :param labelled_classes: ``(M,)`` single-label: each labelled text's label as a column of ``probs``; with
        ``probs``, ``typical`` keeps the labels' shares as the model sees them in the candidates (:func:`typical`).
        Measured (``bench/active.py --typical-balance``, stop 43), not what the page or ``suggest`` do.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r}: allowed: {', '.join(STRATEGIES)}")
    if k < 1:
        raise ValueError(f"k: {k} is not allowed; allowed: 1 or more")
    n = len(embeddings)
    if strategy == "uncertainty" and probs is None:
        raise ValueError("strategy 'uncertainty' needs the model's probabilities")
    margin = margins(probs, multi_label, thresholds) if probs is not None else None
    if len(margin if margin is not None else embeddings) != n:
        raise ValueError(f"{n} embeddings but {len(margin)} rows of probabilities")
    if n == 0:
        return []
    if strategy == "random":
        order = np.random.default_rng(seed).permutation(n)[:k]
        return [Pick(int(i), -1, _value(margin, i)) for i in order]
    if n <= k:  # every candidate is asked: the most useful first
        order = np.argsort(margin, kind="stable") if strategy == "uncertainty" else np.arange(n)
        return [Pick(int(i), int(rank), _value(margin, i)) for rank, i in enumerate(order)]
    if strategy == "typical":
        known = np.zeros((0, embeddings.shape[1])) if labelled is None else labelled
        balance = probs is not None and not multi_label and labelled_classes is not None
        guesses = (np.asarray(probs).argmax(axis=1), np.asarray(labelled_classes)) if balance else None
        return typical(normalised(embeddings), normalised(known), k, seed, guesses)
    assigned, centres = clusters(embeddings, k, seed)
    points = normalised(embeddings)
    picks = []
    for c in range(k):
        members = np.flatnonzero(assigned == c)
        if len(members) == 0:
            continue
        if strategy == "uncertainty":
            best = members[np.argmin(margin[members])]  # argmin: the first (lowest row) on a tie
        else:
            best = members[np.argmin(np.linalg.norm(points[members] - centres[c], axis=1))]
        picks.append(Pick(int(best), c, _value(margin, best)))
    picks.extend(_fill(points, margin, picks, k, strategy))
    if strategy == "uncertainty":
        return sorted(picks, key=lambda p: (p.margin, p.index))
    sizes = np.bincount(assigned, minlength=k)
    return sorted(picks, key=lambda p: (-sizes[p.cluster] if p.cluster >= 0 else 0, p.index))


MAX_CLUSTERS = 500
"""``typical`` clusters into at most this many (TypiClust's cap): beyond it, k-means costs more than it tells."""
NEIGHBOURS = 20
"""``typical``: a text's density is its mean distance to this many nearest texts of its cluster (TypiClust's)."""


def typical(points: np.ndarray, labelled: np.ndarray, k: int, seed: int,
            guesses: tuple[np.ndarray, np.ndarray] | None = None) -> list[Pick]:
    """``k`` picks among the unit rows ``points`` (N > k), given the unit rows of the ``labelled`` texts.

    The labelled and candidate rows are clustered together into ``min(M + k, M + N, MAX_CLUSTERS)`` clusters;
    then ``k`` times: the cluster with the fewest labelled texts or picks so far (the largest of those; the
    lowest number on a tie), and in it the candidate of highest typicality, 1 / the mean distance to its
    :data:`NEIGHBOURS` nearest rows of the cluster (labelled ones count: they make a region dense too).

    ``guesses`` (the model's label of each candidate ``(N,)``, the labelled texts' labels ``(M,)``): each pick is
    first given the label furthest below its share of the candidates' guesses (labelled texts and earlier picks
    counted), then made among the candidates guessed so, as above: density alone can fill a round with one label
    where random choice keeps the pool's mix.
    """
    every = np.vstack([labelled, points])
    count = min(len(labelled) + k, len(every), MAX_CLUSTERS)
    assigned, _ = clusters(every, count, seed)
    covered = np.bincount(assigned[:len(labelled)], minlength=count)
    sizes = np.bincount(assigned, minlength=count)
    density = _typicality(every, assigned)[len(labelled):]
    candidate_cluster = assigned[len(labelled):]
    left = np.ones(len(points), dtype=bool)
    picks: list[Pick] = []
    while len(picks) < k:
        wanted = left & _wanted_label(guesses, picks, left) if guesses is not None else left
        open_clusters = np.unique(candidate_cluster[wanted])
        c = int(min(open_clusters, key=lambda c: (covered[c], -sizes[c], c)))
        members = np.flatnonzero(wanted & (candidate_cluster == c))
        best = int(members[np.argmax(density[members])])  # argmax: the lowest row on a tie
        picks.append(Pick(best, c))
        left[best] = False
        covered[c] += 1
    return picks


def _wanted_label(guesses: tuple[np.ndarray, np.ndarray], picks: list[Pick], left: np.ndarray) -> np.ndarray:
    """The candidates guessed as the label furthest below its share (the lowest label on a tie), of those left."""
    guessed, known = guesses
    classes = max(int(guessed.max(initial=-1)), int(known.max(initial=-1))) + 1
    share = np.bincount(guessed, minlength=classes) / max(len(guessed), 1)
    counts = np.bincount(known[known >= 0], minlength=classes) + np.bincount(
        guessed[[p.index for p in picks]].astype(int), minlength=classes)
    deficit = share * (counts.sum() + 1) - counts
    available = np.bincount(guessed[left], minlength=classes) > 0
    target = int(np.argmax(np.where(available, deficit, -np.inf)))
    return guessed == target


def _typicality(points: np.ndarray, assigned: np.ndarray) -> np.ndarray:
    """Each row's typicality in its cluster: 1 / (mean distance to its nearest rows of the cluster + 1e-8)."""
    out = np.zeros(len(points))
    for c in np.unique(assigned):
        members = np.flatnonzero(assigned == c)
        if len(members) == 1:
            out[members] = 1.0
            continue
        unit = points[members]  # unit rows: |a - b|^2 = 2 - 2 a.b, an (n, n) table, not (n, n, D)
        distances = np.sqrt(np.clip(2.0 - 2.0 * unit @ unit.T, 0.0, None))
        np.fill_diagonal(distances, 0.0)
        nearest = np.sort(distances, axis=1)[:, 1:NEIGHBOURS + 1]  # column 0 is the row itself
        out[members] = 1.0 / (nearest.mean(axis=1) + 1e-8)
    return out


def _fill(points: np.ndarray, margin: np.ndarray | None, picks: list[Pick], k: int, strategy: str) -> list[Pick]:
    """Picks for clusters k-means left empty (duplicate texts): the least sure left, or the farthest from those picked."""
    chosen = {p.index for p in picks}
    extra: list[Pick] = []
    while len(picks) + len(extra) < k:
        rest = np.array([i for i in range(len(points)) if i not in chosen])
        if strategy == "uncertainty":
            best = rest[np.argmin(margin[rest])]
        else:
            taken = points[sorted(chosen)]  # (P, D)
            nearest = np.linalg.norm(points[rest][:, None, :] - taken[None, :, :], axis=2).min(axis=1)
            best = rest[np.argmax(nearest)]
        chosen.add(int(best))
        extra.append(Pick(int(best), -1, _value(margin, best)))
    return extra


def _value(margin: np.ndarray | None, i: int) -> float | None:
    return None if margin is None else float(margin[i])
