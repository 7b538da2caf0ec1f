"""The sentiment figures (matplotlib, Agg backend, PNG): confusion matrix, labels, text lengths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display, works on servers and in CI
    import matplotlib.pyplot as plt

    return plt


def _font_for(texts: Sequence[str]) -> None:
    """Pick a font with CJK glyphs when labels contain Japanese, if one is installed."""
    if not any(ord(ch) > 0x2E80 for text in texts for ch in text):
        return
    from matplotlib import font_manager, rcParams

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in ("Noto Sans CJK JP", "IPAexGothic", "IPAGothic", "TakaoGothic", "Hiragino Sans", "Yu Gothic"):
        if name in installed:
            rcParams["font.family"] = name
            return


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], path: Path, title: str = "") -> Path:
    """A row-normalized confusion matrix (each gold row sums to 1) with the counts in each cell."""
    plt = _pyplot()
    _font_for(labels)
    counts = np.asarray(matrix, dtype=np.float64)  # (L, L): gold rows, predicted columns
    totals = counts.sum(axis=1, keepdims=True)
    normalized = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = 1.2 + 1.1 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(normalized, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(labels)), labels=labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels=labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            color = "white" if normalized[i, j] > 0.5 else "black"
            ax.text(j, i, f"{normalized[i, j]:.2f}\n({int(counts[i, j])})", ha="center", va="center", color=color)
    ax.set_title(title or "Confusion matrix (normalized by true label)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_label_counts(counts: Mapping[str, int], path: Path, title: str = "Label distribution") -> Path:
    """A bar chart of how many examples each label has."""
    plt = _pyplot()
    labels = list(counts)
    _font_for(labels)
    fig, ax = plt.subplots(figsize=(1.5 + 1.2 * len(labels), 4))
    bars = ax.bar(labels, [counts[k] for k in labels], color="#4C72B0")
    ax.bar_label(bars)
    ax.set_ylabel("examples")
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_lengths_by_label(
    lengths: Mapping[str, Sequence[int]], path: Path, unit: str = "words", title: str = ""
) -> Path:
    """A box plot of text lengths (in ``unit``) per label."""
    plt = _pyplot()
    labels = list(lengths)
    _font_for(labels)
    fig, ax = plt.subplots(figsize=(1.5 + 1.2 * len(labels), 4))
    ax.boxplot([list(lengths[k]) for k in labels], showfliers=False)
    ax.set_xticks(range(1, len(labels) + 1), labels=labels)
    ax.set_ylabel(f"{unit} per text")
    ax.set_title(title or f"{unit[:1].upper()}{unit[1:]} per text, by label")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
