"""The label set of a sentiment dataset: names, their order, and how raw values map to them.

Data arrives with labels of three kinds, and each maps to a label *name*:

- ``"text"``: strings (``positive``); the name is the string without surrounding whitespace
  (``"positive "`` is ``positive``).
- ``"int"``: plain integers (``0, 1, 2`` or star ratings ``1..5``); the name is the decimal
  string (``"1"``), so a CSV file (whose values are always text) and a JSONL file with the
  same numbers agree.
- ``"classlabel"``: integers with names (a ``datasets.ClassLabel`` column, e.g. the Hub
  ``tyqiangz/multilingual-sentiments``: 0 positive, 1 neutral, 2 negative); an integer
  ``i`` means ``names[i]`` and the names themselves are accepted too.

Anything else (floats, booleans, missing values, a column mixing text and integers) is a
:class:`~tasuki.errors.DataError` naming the source, the row and the column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tasuki.plugin import DataError, label_name

DEFAULT_LABELS = ("positive", "neutral", "negative")
"""The three labels of the default datasets (the Hub set's order: 0 positive, 1 neutral, 2 negative)."""


def kind_of(value: Any) -> str | None:
    """``"text"``, ``"int"``, or ``None`` for a value that is not a usable label."""
    if isinstance(value, bool):  # bool is an int subclass; True/False are never sentiment labels
        return None
    if isinstance(value, str):
        return "text" if value.strip() else None
    if isinstance(value, int):
        return "int"
    return None


def describe_bad(value: Any) -> str:
    """Why ``value`` cannot be a label, for an error message."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing label"
    if isinstance(value, str):
        return "empty label"
    return f"label {value!r} is a {type(value).__name__}; labels must be text or integers"


def column_kind(values: Sequence[Any], source: str, column: str, class_names: Sequence[str] | None) -> str:
    """Check every value of a label column and return its kind (see the module docstring).

    :raises DataError: a missing/empty/float value, or text and integers mixed in one column.
    """
    first: tuple[int, str] | None = None
    for row, value in enumerate(values, start=1):
        kind = kind_of(value)
        if kind is None:
            raise DataError(f"{source}: row {row}, column {column!r}: {describe_bad(value)}")
        if first is None:
            first = (row, kind)
        elif kind != first[1]:
            raise DataError(
                f"{source}: row {row}, column {column!r}: label {value!r} is {_kind_words(kind)} but row "
                f"{first[0]} has {_kind_words(first[1])}; use one type for every label in a column"
            )
    kind = first[1] if first else "text"
    if kind == "int" and class_names is not None:
        for row, value in enumerate(values, start=1):
            if not 0 <= value < len(class_names):
                raise DataError(
                    f"{source}: row {row}, column {column!r}: label {value} is outside the column's "
                    f"{len(class_names)} class names {list(class_names)}"
                )
        return "classlabel"
    return kind


def _kind_words(kind: str) -> str:
    return "an integer" if kind == "int" else "text"


def ordered_names(values: Sequence[Any], kind: str, class_names: Sequence[str] | None) -> list[str]:
    """The label names seen in ``values``, in a stable order.

    Class names keep their own order; integers sort numerically; text labels sort
    alphabetically (``negative, neutral, positive``), so that the same data always gives the
    same ids whatever the row order.
    """
    if kind == "classlabel":
        return list(class_names or [])
    if kind == "int":
        return [str(v) for v in sorted(set(values))]
    return sorted({str(label_name(v)) for v in values})


def name_of(value: Any, kind: str, labels: Sequence[str]) -> str:
    """The label name of a raw value, given the training data's kind and label names."""
    if isinstance(value, str):
        return label_name(value)  # "negative " is "negative"
    if kind == "classlabel" and isinstance(value, int) and not isinstance(value, bool):
        return labels[value] if 0 <= value < len(labels) else str(value)
    return str(value)
