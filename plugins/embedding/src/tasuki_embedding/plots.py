"""Figures of sentence vectors: a 2-D PCA projection coloured by label, and a similarity heatmap."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasuki.plugin import DataError
from tasuki_embedding.similarity import cos_sim

HEATMAP_MAX = 20
"""Sentences beyond this many make an unreadable heatmap."""
PLOT_POINTS = 2000
"""Most points in the projection plot (a readable picture, and a bounded PCA)."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display: works on servers and in tests
    import matplotlib.pyplot as plt

    return plt


def _short(text: str, width: int = 32) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def pca_2d(embeddings: np.ndarray) -> np.ndarray:
    """The first two principal components of ``embeddings`` (N, H): (N, 2)."""
    x = np.asarray(embeddings, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    _, _, vt = np.linalg.svd(x, full_matrices=False)  # rows of vt: principal directions
    out = x @ vt[:2].T  # (N, <=2)
    return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))


def plot_projection(
    embeddings: np.ndarray, labels: Sequence[str], path: str | Path, title: str = "Sentence embeddings (PCA)"
) -> Path:
    """Scatter the 2-D PCA projection of ``embeddings`` (N, H), one colour per label; save a PNG."""
    if len(embeddings) != len(labels):
        raise DataError(f"projection: {len(labels)} labels for {len(embeddings)} vectors")
    plt = _pyplot()
    points = pca_2d(embeddings)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    names = sorted({str(label) for label in labels})
    colours = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    for i, name in enumerate(names):
        mask = np.array([str(label) == name for label in labels])
        ax.scatter(points[mask, 0], points[mask, 1], s=14, alpha=0.75, color=colours(i % colours.N), label=name)
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    if len(names) <= 20:
        ax.legend(fontsize=8, markerscale=1.5, loc="best")
    return _save(fig, plt, path)


def plot_similarity_heatmap(
    embeddings: np.ndarray,
    texts: Sequence[str],
    path: str | Path,
    columns: tuple[np.ndarray, Sequence[str]] | None = None,
    title: str = "Cosine similarity",
) -> Path:
    """Heatmap of cosine similarities of a few sentences (rows) to themselves or to ``columns``; save a PNG."""
    col_vectors, col_texts = columns if columns is not None else (embeddings, texts)
    if max(len(texts), len(col_texts)) > HEATMAP_MAX:
        raise DataError(f"a similarity heatmap shows at most {HEATMAP_MAX} sentences, got {len(texts)}")
    plt = _pyplot()
    scores = cos_sim(embeddings, col_vectors)
    size = 3 + 0.45 * max(len(texts), len(col_texts))
    fig, ax = plt.subplots(figsize=(size + 2, size))
    image = ax.imshow(scores, cmap="viridis", vmin=min(0.0, float(scores.min())), vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(len(col_texts)), [_label(i, t) for i, t in enumerate(col_texts)], rotation=60, ha="right")
    ax.set_yticks(range(len(texts)), [_label(i, t) for i, t in enumerate(texts)])
    if len(texts) * len(col_texts) <= 144:
        for (i, j), value in np.ndenumerate(scores):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.6 else "k")
    ax.set_title(title)
    return _save(fig, plt, path)


def _label(i: int, text: str) -> str:
    # The default fonts have no CJK glyphs: number non-Latin sentences instead of drawing boxes.
    return f"{i + 1}. {_short(text)}" if all(ord(c) < 0x2E80 for c in text) else f"{i + 1}. (text {i + 1})"


def _save(fig, plt, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # missing glyphs of rare characters
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_evaluation(text: np.ndarray, pair: np.ndarray | None, examples: Any, directory: Path) -> list[Path]:
    """The embedding task's figures from its evaluation vectors (``text`` and, for pairs, ``pair``, (N, H))."""
    text = text[:PLOT_POINTS]
    if "label" in examples.column_names:
        vectors, labels = text, [str(x) for x in examples["label"][: len(text)]]
    elif pair is not None:
        pairs = pair[:PLOT_POINTS]
        vectors, labels = np.concatenate([text, pairs]), ["text"] * len(text) + ["pair"] * len(pairs)
    else:
        vectors, labels = text, ["text"] * len(text)
    paths = [plot_projection(vectors, labels, directory / "embedding_pca.png")]
    n = min(len(text), HEATMAP_MAX // 2 if pair is not None else HEATMAP_MAX)
    columns = (pair[:n], list(examples["pair"][:n])) if pair is not None else None
    paths.append(plot_similarity_heatmap(text[:n], list(examples["text"][:n]), directory / "similarity_heatmap.png",
                                         columns=columns))
    return paths
