"""Entity-level metrics with seqeval's conventions, and the per-type F1 bar chart.

Default mode is seqeval's (conlleval-compatible): an ``I-X`` after ``O`` starts an entity.
``strict=True`` is seqeval's strict IOB2 mode, where only well-formed entities count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def entity_report(
    y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]], *, strict: bool = False
) -> dict[str, dict[str, float]]:
    """seqeval's classification report as a dict: one entry per type plus ``micro avg`` / ``macro avg``."""
    from seqeval.metrics import classification_report

    kwargs = {}
    if strict:
        from seqeval.scheme import IOB2

        kwargs = {"mode": "strict", "scheme": IOB2}
    report = classification_report(
        [list(t) for t in y_true], [list(p) for p in y_pred], output_dict=True, zero_division=0, **kwargs
    )
    return {name: {k: float(v) for k, v in row.items()} for name, row in report.items()}


def entity_metrics(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]], *, strict: bool = False) -> dict[str, float]:
    """Flat metrics: micro ``precision``/``recall``/``f1``, ``macro_f1``, token ``accuracy``, and per type."""
    report = entity_report(y_true, y_pred, strict=strict)
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    macro = report.get("macro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    flat_true = [t for s in y_true for t in s]
    flat_pred = [p for s in y_pred for p in s]
    metrics = {
        "precision": micro["precision"],
        "recall": micro["recall"],
        "f1": micro["f1-score"],
        "macro_precision": macro["precision"],
        "macro_recall": macro["recall"],
        "macro_f1": macro["f1-score"],
        "accuracy": float(np.mean([t == p for t, p in zip(flat_true, flat_pred)])) if flat_true else 0.0,
    }
    for name, row in report.items():
        if name.endswith(" avg"):
            continue
        metrics[f"f1_{name}"] = row["f1-score"]
        metrics[f"precision_{name}"] = row["precision"]
        metrics[f"recall_{name}"] = row["recall"]
        metrics[f"support_{name}"] = row["support"]
    return metrics


def plot_f1_by_type(report: dict[str, dict[str, float]], path: Path | str, title: str = "Entity F1 by type") -> Path:
    """A horizontal bar chart of precision, recall and F1 per entity type (PNG, Agg backend)."""
    from tasuki.plugin import pyplot, save_figure

    plt = pyplot()

    types = sorted((k for k in report if not k.endswith(" avg")), key=lambda k: report[k]["f1-score"])
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(types) + 1.6))
    y = np.arange(len(types))
    height = 0.27
    for offset, key, color in ((-height, "precision", "#9ecae1"), (0, "recall", "#fdae6b"), (height, "f1-score", "#31a354")):
        ax.barh(y + offset, [report[t][key] for t in types], height, label=key.replace("-score", ""), color=color)
    for i, t in enumerate(types):
        ax.text(report[t]["f1-score"] + 0.01, i + height, f"{report[t]['f1-score']:.2f}", va="center", fontsize=8)
    ax.set_yticks(y, [f"{t} (n={int(report[t]['support'])})" for t in types])
    ax.set_xlim(0, 1.1)
    micro = report.get("micro avg", {}).get("f1-score", 0.0)
    ax.set_title(f"{title} (micro F1 {micro:.3f})")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def word_tags(merged: Iterable[tuple[dict, dict]], example_of: Callable[[dict], Any], labels: Sequence[str]
              ) -> tuple[list, list]:
    """Gold and predicted BIO tags per word, for seqeval, from each example's merged token predictions."""
    id2label = dict(enumerate(labels))
    y_true, y_pred = [], []
    for row, tokens in merged:
        example = example_of(row)
        best = tokens["logits"].argmax(axis=-1) if len(tokens["logits"]) else np.zeros(0, dtype=int)
        predicted = []
        for w, (start, _) in enumerate(example.words):
            hits = np.nonzero(tokens["word_ids"] == w)[0]
            if len(hits):
                predicted.append(id2label[int(best[hits[0]])])
                continue
            # no token starts in this word: it continues the token that covers its first character
            cover = [t for t, (s, e) in enumerate(tokens["offsets"]) if s <= start < e]
            tag = id2label[int(best[cover[0]])] if cover else "O"
            predicted.append("I-" + tag[2:] if tag.startswith("B-") else tag)
        y_true.append(example.tags or ["O"] * len(example.words))
        y_pred.append(predicted)
    return y_true, y_pred
