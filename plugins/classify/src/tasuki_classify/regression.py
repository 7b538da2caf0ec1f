"""Numeric targets (a similarity or relevance score): reading them, scaling them for training, their metrics.

The head learns standardized targets, ``z = (y - mean) / std`` with the training data's mean and
(population) standard deviation: one learning rate then suits a 0-1 share and a 0-100 rating alike.
:class:`Scaling` is saved with the model, and every prediction is ``y = z * std + mean``, on the
targets' own scale.

A target is a number: an int or float (never a boolean), or a text that reads as one (``"3.5"``,
as a hand-written JSON file may hold), finite in every case. Anything else is a :class:`DataError`
naming the source, the row and the column. scipy and matplotlib are imported inside the functions:
plugin discovery imports the task module.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasuki.plugin import DataError

logger = logging.getLogger(__name__)


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is not a number."""
    if isinstance(value, bool):  # an int subclass, but a yes/no answer is not a score
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def is_missing(value: Any) -> bool:
    """None, NaN (an empty CSV cell read by pandas) or a blank text."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def read_targets(values: Iterable[Any], source: str, column: str,
                 classes: str = "--option regression=false reads the column as classes") -> list[float]:
    """Every value as a float, rows numbered from 1; ``classes``: the way to classes, said when one is not a number.

    :raises DataError: a value that is not a finite number, e.g. ``training data: row 3, column 'label':
        'high' is not a number; a regression target must be one``.
    """
    targets = []
    for row, value in enumerate(values, start=1):
        target = number(value)
        if target is None:
            what = f"missing target ({value!r}); remove the row or give it a number" if is_missing(value) else (
                f"{value!r} is not a number; a regression target must be one ({classes})")
            raise DataError(f"{source}: row {row}, column {column!r}: {what}")
        targets.append(target)
    return targets


def holds_scores(data: Any, column: str, values: Sequence[Any]) -> bool:
    """Whether a label column holds scores: numbers written with decimals (``0.75``, ``4.0``, ``1e-3``).

    A float column (JSON, parquet) holds scores; an integer or ``ClassLabel`` column holds class ids, as
    duplicate-question and entailment sets write them (``0``/``1``/``2``). A text column (every CSV column is
    read as text) holds scores when every value reads as a number and some are written with decimals.
    """
    features = getattr(data, "features", None) or {}
    dtype = str(getattr(features.get(column), "dtype", "") or "")
    if dtype and dtype not in ("string", "large_string"):
        return dtype.startswith("float")
    return bool(values) and all(number(v) is not None for v in values) and any(
        isinstance(v, float) or (isinstance(v, str) and any(c in v for c in ".eE")) for v in values)


@dataclass(frozen=True)
class Scaling:
    """The training targets' mean and standard deviation: what the head's outputs are in units of."""

    mean: float
    std: float

    @classmethod
    def from_state(cls, state: Any) -> Scaling:
        """The scaling saved in ``tasuki.json`` (``{"mean": ..., "std": ...}``).

        :raises SettingError: not two finite numbers with a positive ``std``.
        """
        from tasuki.plugin import SettingError

        try:
            mean, std = float(state["mean"]), float(state["std"])
        except (TypeError, KeyError, ValueError):
            mean = std = math.nan
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise SettingError(f"'scaling': {state!r} is not allowed; allowed: {{\"mean\": a number, \"std\": a number "
                               f"> 0}}, as training wrote it")
        return cls(mean, std)

    @classmethod
    def fit(cls, targets: Sequence[float], source: str, column: str) -> Scaling:
        """The mean and population standard deviation of ``targets``.

        :raises DataError: fewer than two rows, or one value in every row (there is nothing to learn).
        """
        values = np.asarray(targets, dtype=np.float64)
        std = float(values.std()) if len(values) else 0.0
        if len(values) < 2 or std == 0.0:
            what = f"one value ({values[0]:g}) in all {len(values)} rows" if len(values) else "no rows"
            raise DataError(f"{source}: column {column!r} has {what}; a regression needs targets that vary")
        return cls(float(values.mean()), std)

    def standardize(self, targets: Sequence[float]) -> np.ndarray:
        """``(targets - mean) / std``: what the head is trained to output."""
        return (np.asarray(targets, dtype=np.float64) - self.mean) / self.std

    def invert(self, outputs: Sequence[float]) -> np.ndarray:
        """``outputs * std + mean``: the head's outputs on the targets' scale."""
        return np.asarray(outputs, dtype=np.float64) * self.std + self.mean


def metrics(gold: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    """Pearson and Spearman correlation and the mean squared error, on the targets' scale.

    A correlation is NaN where either side is constant (it is undefined there), never a made-up 0.
    """
    from scipy.stats import pearsonr, spearmanr

    gold, predicted = np.asarray(gold, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    mse = float(np.mean((gold - predicted) ** 2)) if len(gold) else math.nan
    if len(gold) < 2 or np.ptp(gold) == 0 or np.ptp(predicted) == 0:
        why = ("fewer than 2 rows" if len(gold) < 2 else
               "the targets are constant" if np.ptp(gold) == 0 else "the predictions are constant")
        logger.warning("Pearson and Spearman are undefined (null in JSON) on these %d rows: %s; mse alone scores "
                       "them", len(gold), why)
        return {"pearson": math.nan, "spearman": math.nan, "mse": mse}
    return {"pearson": float(pearsonr(predicted, gold)[0]), "spearman": float(spearmanr(predicted, gold).statistic),
            "mse": mse}


def scatter_figure(gold: Sequence[float], predicted: Sequence[float], path: Path, title: str) -> Path:
    """Predicted against gold scores, the diagonal drawn, the metrics in the title."""
    from tasuki.plugin import pyplot, save_figure

    plt = pyplot()
    scores = metrics(gold, predicted)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(gold, predicted, s=10, alpha=0.6)
    low, high = float(min(np.min(gold), np.min(predicted))), float(max(np.max(gold), np.max(predicted)))
    ax.plot([low, high], [low, high], color="grey", linewidth=1)
    ax.set_xlabel("gold score")
    ax.set_ylabel("predicted score")
    ax.set_title(f"{title}\nSpearman {scores['spearman']:.3f} · Pearson {scores['pearson']:.3f} · "
                 f"MSE {scores['mse']:.3g} · n={len(gold):,}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
