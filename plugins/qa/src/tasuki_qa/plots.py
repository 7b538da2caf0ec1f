"""The figure written after a QA evaluation: how well the no-answer score separates the questions."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_no_answer_scores(scores: np.ndarray, has_answer: np.ndarray, threshold: float, path: Path) -> Path:
    """Histogram of ``null_score - best_span_score`` for answerable vs unanswerable questions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(-1.0, 1.0, 41)
    ax.hist(scores[has_answer], bins=bins, alpha=0.6, label=f"has answer ({int(has_answer.sum())})")
    ax.hist(scores[~has_answer], bins=bins, alpha=0.6, label=f"no answer ({int((~has_answer).sum())})")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    ax.set_xlabel("no-answer score (null score - best span score)")
    ax.set_ylabel("questions")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
