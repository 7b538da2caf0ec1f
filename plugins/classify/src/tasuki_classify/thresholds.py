"""One decision threshold per label of a multi-label model, tuned on held-out scores for its F1.

For one label, sort the held-out scores' distinct values from high to low, ``s_1 > s_2 > ... > s_m``.
Calling the ``k`` highest values positive gives an F1; its threshold is the midpoint ``(s_k + s_{k+1}) / 2``
(``s_m / 2`` for ``k = m``), so that a new score between a kept and a dropped one falls on neither side by
accident of the sample.

The best held-out F1 is itself noisy: a few dozen positives per label put one or two examples between
thresholds whose F1 differ by several points, and the argmax then lands on an extreme threshold that does not
carry over to new data (in ``bench/classify_multilabel.py``, two MiniLM models whose thresholds were tuned so
on 300 held-out rows scored 0.5 micro-F1 points below a flat 0.5 on 1,000 test rows; on a third, level). So
the one-standard-error rule (Breiman et al. 1984; Hastie et al., *Elements of Statistical Learning*, 7.10)
takes, of the candidates (0.5 is one too) whose F1 is within one standard error of the best,
``sqrt(F1 * (1 - F1) / positives)``, the one nearest 0.5: a well-calibrated label keeps the sigmoid's natural
cut, and a label whose scores never reach 0.5 (sparse labels, a short run) still moves to where it predicts.
Ties keep the higher threshold. ``within_noise=False`` takes the argmax alone (ties: the higher threshold).
A label without a positive held-out example has no F1 to maximise: it keeps :data:`DEFAULT_THRESHOLD`.

Worked examples (``tests/test_thresholds.py``): scores ``0.9, 0.8, 0.4, 0.3`` with gold ``1, 0, 1, 0``.
k=1: TP 1, FP 0, FN 1, F1 = 2/3 (threshold 0.85); k=2: F1 = 2*1/(2+2) = 1/2 (0.6); k=3: TP 2, FP 1,
F1 = 4/5 (0.35); k=4: F1 = 4/6 (0.15); 0.5 keeps two scores, F1 1/2. The argmax is k=3, 0.35. Its standard
error is sqrt(0.8 * 0.2 / 2) = 0.283, so every candidate with F1 >= 0.517 qualifies (0.85, 0.35, 0.15), and
0.35 is the nearest 0.5 (0.15 away, against 0.35 for 0.85).
"""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.5
"""A sigmoid's natural cut, kept by labels that have no held-out positive (or no held-out data at all)."""


def tune_label(scores: np.ndarray, gold: np.ndarray, *, within_noise: bool = True) -> float | None:
    """The threshold of one label (module docstring), or None without a positive example."""
    scores = np.asarray(scores, dtype=np.float64)
    gold = np.asarray(gold).astype(bool)
    positives = int(gold.sum())
    if positives == 0:
        return None
    # F1 of keeping the k highest distinct scores, every k at once: ranked high to low, the last position of each
    # distinct score counts what it keeps (O(n log n); a candidates x rows table would not fit large held-out sets)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    last = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    distinct, kept, true_positive = ranked[last], last + 1, np.cumsum(gold[order])[last]
    candidates = (distinct + np.append(distinct[1:], 0.0)) / 2
    if within_noise:
        at_half = scores >= DEFAULT_THRESHOLD
        candidates = np.append(candidates, DEFAULT_THRESHOLD)
        kept, true_positive = np.append(kept, at_half.sum()), np.append(true_positive, (at_half & gold).sum())
    f1 = 2 * true_positive / (kept + positives)
    best = float(f1.max())
    if not within_noise:
        return float(candidates[f1 >= best - 1e-12].max())  # ties of the argmax: the higher threshold
    eligible = np.flatnonzero(f1 >= best - np.sqrt(best * (1 - best) / positives) - 1e-12)
    distance = np.abs(candidates[eligible] - DEFAULT_THRESHOLD)
    return float(candidates[eligible[distance <= distance.min() + 1e-12]].max())


def tune(scores: np.ndarray, gold: np.ndarray, labels: list[str], *, within_noise: bool = True,
         fixed: dict[str, float] | None = None) -> tuple[dict[str, float], list[str]]:
    """Thresholds of every label from ``scores`` / ``gold`` ``(N, L)``, and the labels left at the default;
    the labels in ``fixed`` (the user's own thresholds) keep theirs."""
    thresholds, untuned, fixed = {}, [], fixed or {}
    for j, label in enumerate(labels):
        if label in fixed:
            thresholds[label] = fixed[label]
            continue
        value = tune_label(scores[:, j], gold[:, j], within_noise=within_noise) if len(scores) else None
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
