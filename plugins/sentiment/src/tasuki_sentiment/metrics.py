"""Classification metrics (scikit-learn): accuracy, F1, per-label scores, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# scikit-learn is imported inside the functions: plugin discovery (``tasuki --help``) imports this module.


def confusion(gold: np.ndarray, predicted: np.ndarray, num_labels: int) -> np.ndarray:
    """Counts ``(num_labels, num_labels)``: rows are gold labels, columns predictions."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(gold, predicted, labels=list(range(num_labels)))


def classification_metrics(gold: np.ndarray, predicted: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Accuracy, weighted and macro F1, ``precision/LABEL``, ``recall/LABEL``, ``f1/LABEL``,
    ``support/LABEL`` and the confusion matrix as ``confusion/GOLD/PREDICTED`` counts.

    All values are plain floats, so that they print and serialise like any other metric.
    """
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=ids, zero_division=0
    )
    metrics: dict[str, float] = {
        "accuracy": float(accuracy_score(gold, predicted)),
        "f1_weighted": float(f1_score(gold, predicted, labels=ids, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(gold, predicted, labels=ids, average="macro", zero_division=0)),
    }
    for i, label in enumerate(labels):
        metrics[f"precision/{label}"] = float(precision[i])
        metrics[f"recall/{label}"] = float(recall[i])
        metrics[f"f1/{label}"] = float(f1[i])
        metrics[f"support/{label}"] = float(support[i])
    matrix = confusion(gold, predicted, len(labels))
    for i, gold_label in enumerate(labels):
        for j, predicted_label in enumerate(labels):
            metrics[f"confusion/{gold_label}/{predicted_label}"] = float(matrix[i, j])
    return metrics


def confusion_from_metrics(metrics: dict[str, float], labels: Sequence[str]) -> np.ndarray:
    """Rebuild the ``(L, L)`` count matrix from :func:`classification_metrics`' ``confusion/…`` keys."""
    return np.array(
        [[metrics.get(f"confusion/{g}/{p}", 0.0) for p in labels] for g in labels], dtype=np.int64
    )
