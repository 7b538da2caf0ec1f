"""The options of the ``classify`` task (``--option NAME=VALUE``), saved with the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tasuki.plugin import setting


@dataclass
class ClassifyOptions:
    """Options of the ``classify`` task, saved with the model."""

    multi_label: bool | None = None
    """Any number of labels per row (a sigmoid per label); unset: multi-label when the label column holds lists
    or label_separator is given. false refuses rows with other than one label."""
    label_separator: str | None = None
    """Split a text label on this ('sports|politics' in a CSV cell; an empty cell is no label): multi-label."""
    class_weights: str | None = None
    """Single-label loss weights: 'balanced' (rows / (labels * rows of the label)) or label=weight pairs ('spam=4')."""
    threshold: float | None = setting(None, min=0.0, max=1.0)
    """Multi-label: one threshold for every label, instead of the per-label ones (a serve request may set it)."""
    thresholds: dict[str, float] = field(default_factory=dict)
    """Multi-label: the threshold of a label ({"sports": 0.4}); the labels not given are tuned on the held-out data."""
    top_k: int | None = setting(None, min=1)
    """At most this many labels per prediction (multi-label: the best above their thresholds; single: in scores)."""
    recipe: Literal["few-shot", "standard"] | None = None
    """few-shot (contrastive tuning on the labels, then a head) or standard (end to end); unset: few-shot to 64 rows a label."""
    windows: bool = True
    """A text longer than a window (max_length tokens) is read in overlapping windows, each trained with its label;
    false: truncated."""
    window_length: int | None = setting(None, min=3)
    """Tokens a window holds, special tokens included (at most max_length); unset: max_length. Near the training
    texts' length, a model trained on short texts reads long texts of one label better (bench/RESULTS.md)."""
    window_stride: int | None = setting(None, min=0)
    """Tokens shared by consecutive windows (below the window's room for text); unset: a quarter of the window."""
    window_aggregation: Literal["mean", "max"] | None = None
    """A text's scores from its windows': each label's mean or max over them; unset: mean (single-label), max (multi)."""
    regression: bool | None = None
    """false: a label column of numbers with decimals (3.7) holds classes; unset: such a column is refused (scores)."""
