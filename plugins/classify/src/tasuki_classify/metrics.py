"""Metrics (scikit-learn) and figures of single- and multi-label classification.

scikit-learn and matplotlib are imported inside the functions: plugin discovery imports the task module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def confusion(gold: np.ndarray, predicted: np.ndarray, num_labels: int) -> np.ndarray:
    """Counts ``(num_labels, num_labels)``: rows are gold labels, columns predictions."""
    from sklearn.metrics import confusion_matrix as counts

    return counts(gold, predicted, labels=list(range(num_labels)))


def _per_label(metrics: dict[str, float], labels: Sequence[str], precision: np.ndarray, recall: np.ndarray,
               f1: np.ndarray, support: np.ndarray, seen: set[int]) -> None:
    """Each label's scores; a label neither in the data nor predicted has its support (0) alone: it has no
    precision, recall or F1 to score, and a 0 there read as a failure."""
    for i, label in enumerate(labels):
        metrics[f"support/{label}"] = float(support[i])
        if i not in seen:
            continue
        metrics[f"precision/{label}"] = float(precision[i])
        metrics[f"recall/{label}"] = float(recall[i])
        metrics[f"f1/{label}"] = float(f1[i])


def single_label(gold: np.ndarray, predicted: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Accuracy, weighted and macro F1, per-label precision/recall/F1/support and ``confusion/GOLD/PREDICTED``."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    ids = list(range(len(labels)))
    seen = {int(i) for i in np.concatenate([np.asarray(gold).ravel(), np.asarray(predicted).ravel()])}
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=ids, zero_division=0)
    metrics: dict[str, float] = {
        "accuracy": float(accuracy_score(gold, predicted)),
        "f1_weighted": float(f1_score(gold, predicted, labels=ids, average="weighted", zero_division=0)),
        # over the labels in the data or the predictions, as scikit-learn's default: a label of neither (a test
        # set without it) counted 0 and pulled the main metric down (all 7 right: macro F1 0.25 of 4 labels)
        "f1_macro": float(f1_score(gold, predicted, labels=sorted(seen), average="macro", zero_division=0)),
    }
    _per_label(metrics, labels, precision, recall, f1, support, seen)
    matrix = confusion(gold, predicted, len(labels))
    for i, gold_label in enumerate(labels):
        for j, predicted_label in enumerate(labels):
            metrics[f"confusion/{gold_label}/{predicted_label}"] = float(matrix[i, j])
    return metrics


def multi_label(gold: np.ndarray, predicted: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Micro and macro F1, subset accuracy (every label of a row right), per-label precision/recall/F1/support.

    ``gold`` and ``predicted`` are ``(N, L)`` indicator matrices. Macro F1 averages the labels that are in the
    data or the predictions, as the single-label metrics do; where no row has or is given any label, there is
    nothing to find and nothing was found: micro and macro F1 are 1 (they were 0 beside a subset accuracy of 1).
    """
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    gold, predicted = np.asarray(gold, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    seen = {int(i) for i in np.flatnonzero(gold.any(axis=0) | predicted.any(axis=0))} if gold.size else set()
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, zero_division=0)
    macro = float(np.mean([f1[i] for i in sorted(seen)])) if seen else 1.0
    metrics: dict[str, float] = {
        "f1_micro": float(f1_score(gold, predicted, average="micro", zero_division=1.0)),
        "f1_macro": macro,
        "subset_accuracy": float(accuracy_score(gold, predicted)),
    }
    _per_label(metrics, labels, precision, recall, f1, support, seen)
    return metrics


def confusion_figure(gold: np.ndarray, predicted: np.ndarray, labels: Sequence[str], path: Path, title: str) -> Path:
    """The row-normalised confusion matrix of a single-label model, its scores in the subtitle."""
    from tasuki.plugin import confusion_matrix

    scores = single_label(gold, predicted, labels)
    subtitle = f"macro F1 {scores['f1_macro']:.3f} · accuracy {scores['accuracy']:.3f} · n={len(gold):,}"
    return confusion_matrix(confusion(gold, predicted, len(labels)), list(labels), path, title=title, subtitle=subtitle)


def per_label_figure(metrics: dict[str, float], labels: Sequence[str], path: Path, title: str) -> Path:
    """Bars of each label's F1 (multi-label: one binary decision per label, so no confusion matrix)."""
    from tasuki.plugin import bar_chart

    scores = {label: metrics[f"f1/{label}"] for label in labels if f"f1/{label}" in metrics}  # absent: no bar
    return bar_chart(scores, path, title=f"{title} · micro F1 {metrics['f1_micro']:.3f}", ylabel="F1", percent=True)
