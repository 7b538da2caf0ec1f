"""Figures people look at, as PNG files: bars, box plots, heatmaps, confusion matrices.

Always the Agg backend (files only: works on servers and in CI). Labels with Japanese text
switch to a CJK font when one is installed. Files are written atomically. Sizes are bounded: at most
:data:`MAX_CATEGORIES` classes, bars or boxes (the largest; the title says so), and no side over
:data:`MAX_PIXELS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasuki.files import atomic_path

MAX_CATEGORIES = 30
"""Classes of a confusion matrix, bars of a bar chart and boxes of a box plot one figure shows: the largest.
A figure grows with its classes (a confusion matrix with their square: 500 classes took 22.7 GB to draw,
and the kernel killed the run), and past about 30 its labels and cells can no longer be read anyway."""
MAX_PIXELS = 4096
"""The longest side of any figure, in pixels: a larger one is drawn at a lower dpi (memory: 4096² x 4 bytes)."""
CJK_FONTS = ("Noto Sans CJK JP", "IPAexGothic", "IPAGothic", "TakaoGothic", "Hiragino Sans", "Yu Gothic")


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def use_cjk_font_if_needed(texts: Sequence[str]) -> None:
    """Pick an installed CJK font when any label holds Japanese (else glyphs render as boxes)."""
    if not any(ord(ch) > 0x2E80 for text in texts for ch in str(text)):
        return
    from matplotlib import font_manager, rcParams

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            rcParams["font.family"] = name
            return


def save(fig: Any, path: str | Path, dpi: float = 120) -> Path:
    """Save ``fig`` as PNG atomically and close it; at a lower ``dpi`` where a side would exceed :data:`MAX_PIXELS`."""
    dpi = min(dpi, MAX_PIXELS / max(fig.get_size_inches()))
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        pyplot().close(fig)
    return path


def largest(sizes: Sequence[float], note: str) -> tuple[list[int], str]:
    """The positions (in their order) of the :data:`MAX_CATEGORIES` largest ``sizes`` (ties: the first), and
    ``note`` for the title (``"the {kept} largest of {total}"`` filled in, in brackets); all and ``""`` if few."""
    if len(sizes) <= MAX_CATEGORIES:
        return list(range(len(sizes))), ""
    kept = sorted(np.argsort(-np.asarray(sizes, dtype=np.float64), kind="stable")[:MAX_CATEGORIES].tolist())
    return kept, " (" + note.format(kept=MAX_CATEGORIES, total=f"{len(sizes):,}") + ")"


def value_label(value: float, *, percent: bool = False) -> str:
    """A number as people read it: ``2,710`` (never ``2.71e+03``), ``0.873``, or ``87.3%``."""
    if percent:
        return f"{100 * value:.1f}%" if 0 < abs(value) < 0.1 else f"{100 * value:.0f}%"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def bar_chart(
    values: Mapping[str, float], path: str | Path, *, title: str, ylabel: str = "", percent: bool = False,
    show_share: bool = False,
) -> Path:
    """One bar per key, its value written above it (integers as integers, ``percent=True`` for shares in 0..1).

    ``show_share`` adds each bar's share of the total (``1,204 (62%)``): label counts.
    """
    plt = pyplot()
    kept, note = largest([float(v) for v in values.values()], "the {kept} largest of {total}")
    names = [str(k) for k in values]
    numbers = [float(v) for v in values.values()]
    total = sum(numbers)  # shares are of every bar, shown or not
    names, numbers = [names[i] for i in kept], [numbers[i] for i in kept]
    use_cjk_font_if_needed(names)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(names) + 2), 3.6))
    bars = ax.bar(names, numbers, color="#4C72B0")
    labels = [value_label(v, percent=percent) + (f" ({v / total:.0%})" if show_share and total else "") for v in numbers]
    ax.bar_label(bars, labels=labels, padding=2)
    top = max([0.0, *numbers])
    if top > 0:  # headroom: the tallest bar's label stays inside the frame
        ax.set_ylim(top=top * 1.15)
    if percent:
        ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax.set_title(title + note)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=30 if len(names) > 5 else 0)
    fig.tight_layout()
    return save(fig, path)


def heatmap(
    matrix: np.ndarray,
    path: str | Path,
    *,
    title: str,
    xlabels: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    cmap: str = "viridis",
    annotate: bool = False,
) -> Path:
    """A matrix as an image with a colour bar (attention weights, positional encodings, similarities)."""
    plt = pyplot()
    matrix = np.asarray(matrix, dtype=np.float64)  # (rows, cols)
    use_cjk_font_if_needed([*(xlabels or []), *(ylabels or [])])
    rows, cols = matrix.shape
    fig, ax = plt.subplots(figsize=(min(14.0, 2.5 + 0.45 * cols) if xlabels else 8.0,
                                    min(12.0, 2.0 + 0.45 * rows) if ylabels else 5.0))
    image = ax.imshow(matrix, cmap=cmap, aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if xlabels is not None:
        ax.set_xticks(range(cols), labels=list(xlabels), rotation=60, ha="right")
    if ylabels is not None:
        ax.set_yticks(range(rows), labels=list(ylabels))
    if annotate and rows * cols <= 400:
        for i in range(rows):
            for j in range(cols):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return save(fig, path)


def confusion_matrix(
    counts: np.ndarray, labels: Sequence[str], path: str | Path, *, title: str = "", subtitle: str = ""
) -> Path:
    """A confusion matrix normalised by true label (rows sum to 1), counts in each cell.

    :param title: e.g. the model or backbone; default "Confusion matrix".
    :param subtitle: a second title line, e.g. the score (``macro F1 0.812 · accuracy 0.846 · n=1,600``).
    """
    plt = pyplot()
    counts = np.asarray(counts, dtype=np.float64)  # (L, L): gold rows, predicted columns
    totals = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    # the largest true classes; their shares stay those of all their predictions, shown or not
    kept, note = largest(totals[:, 0], "the {kept} most frequent of {total} classes")
    counts, normalised = counts[np.ix_(kept, kept)], normalised[np.ix_(kept, kept)]
    labels = [labels[i] for i in kept]
    use_cjk_font_if_needed(labels)
    size = 1.2 + 1.1 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(labels)), labels=list(labels), rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels=list(labels))
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            color = "white" if normalised[i, j] > 0.5 else "black"
            ax.text(j, i, f"{normalised[i, j]:.0%}\n({int(counts[i, j]):,})", ha="center", va="center", color=color)
    heading = (title or "Confusion matrix") + note
    ax.set_title(f"{heading}\n{subtitle}" if subtitle else heading, fontsize=10)
    ax.set_xlabel("predicted (cells: share of the true label, and count)")
    fig.tight_layout()
    return save(fig, path)


def box_plot(groups: Mapping[str, Sequence[float]], path: str | Path, *, title: str, ylabel: str) -> Path:
    """One box per group (e.g. words per text, by label); each tick says how many values its box holds."""
    plt = pyplot()
    kept, note = largest([len(v) for v in groups.values()], "the {kept} of {total} with the most values")
    items = list(groups.items())
    chosen = [items[i] for i in kept]
    names = [f"{k}\n(n={len(v):,})" for k, v in chosen]
    use_cjk_font_if_needed(names)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 2), 4.0))
    ax.boxplot([list(v) for _, v in chosen], tick_labels=names, showfliers=True)
    ax.set_title(title + note)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return save(fig, path)
