"""One decision threshold per label of a multi-label model, tuned on held-out scores to maximise its F1.

For one label, sort the held-out scores' distinct values from high to low, ``s_1 > s_2 > ... > s_m``.
Calling the ``k`` highest values positive gives an F1; the threshold for the best ``k`` is the midpoint
``(s_k + s_{k+1}) / 2`` (``s_m / 2`` for ``k = m``), so that a new score between a kept and a dropped
one falls on neither side by accident of the sample. Ties of F1 keep the smallest ``k`` (the highest
threshold). A label without a positive held-out example has no F1 to maximise: it keeps
:data:`DEFAULT_THRESHOLD`.

A worked example (``tests/test_thresholds.py``): scores ``0.9, 0.8, 0.4, 0.3`` with gold ``1, 0, 1, 0``.
k=1: TP 1, FP 0, FN 1, F1 = 2/3; k=2: F1 = 2*1/(2+2) = 1/2; k=3: TP 2, FP 1, F1 = 4/5; k=4: F1 = 4/6.
The best is k=3, threshold (0.4 + 0.3) / 2 = 0.35.
"""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.5
"""A sigmoid's natural cut, kept by labels that have no held-out positive (or no held-out data at all)."""


def tune_label(scores: np.ndarray, gold: np.ndarray) -> float | None:
    """The F1-maximising threshold of one label (module docstring), or None without a positive example."""
    scores = np.asarray(scores, dtype=np.float64)
    gold = np.asarray(gold).astype(bool)
    positives = int(gold.sum())
    if positives == 0:
        return None
    distinct = np.unique(scores)[::-1]  # high to low
    best_f1, best_k = -1.0, 0
    for k, value in enumerate(distinct):
        predicted = scores >= value
        true_positive = int((predicted & gold).sum())
        f1 = 2 * true_positive / (int(predicted.sum()) + positives)
        if f1 > best_f1 + 1e-12:  # strictly better: ties keep the higher threshold
            best_f1, best_k = f1, k
    lower = distinct[best_k + 1] if best_k + 1 < len(distinct) else 0.0
    return float((distinct[best_k] + lower) / 2)


def tune(scores: np.ndarray, gold: np.ndarray, labels: list[str]) -> tuple[dict[str, float], list[str]]:
    """Thresholds of every label from ``scores`` / ``gold`` ``(N, L)``, and the labels left at the default."""
    thresholds, untuned = {}, []
    for j, label in enumerate(labels):
        value = tune_label(scores[:, j], gold[:, j]) if len(scores) else None
        if value is None:
            untuned.append(label)
        thresholds[label] = DEFAULT_THRESHOLD if value is None else value
    return thresholds, untuned


def cuts(labels: list[str], thresholds: dict[str, float], override: float | None) -> list[float]:
    """The threshold each label is decided at: ``override`` for all when given, else its own, else the default."""
    return [override if override is not None else thresholds.get(label, DEFAULT_THRESHOLD) for label in labels]


def decide(scores: np.ndarray, labels: list[str], thresholds: dict[str, float], override: float | None) -> np.ndarray:
    """Boolean ``(N, L)``: each label at or above its threshold (``override`` replaces every threshold)."""
    return np.asarray(scores, dtype=np.float64) >= np.array(cuts(labels, thresholds, override), dtype=np.float64)[None, :]
