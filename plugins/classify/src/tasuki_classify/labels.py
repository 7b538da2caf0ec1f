"""How a row's label value becomes label names, and what the training labels say about the task.

A label value is one of:

- a string (``"sports"``, read without surrounding whitespace) or a number (``3``, named ``"3"``;
  an integral float ``3.0`` is ``"3"`` too, since pandas reads an integer CSV column with gaps as floats, and
  so is the text ``"3.0"`` a CSV cell holds once pandas wrote that column back: a class is named alike in a
  CSV and a JSONL file);
- a boolean (a pandas or parquet ``is_spam`` column, JSON ``true``), named ``"True"``/``"False"`` as pandas
  writes it to a CSV;
- a list of those (JSON, JSONL, parquet): the row's label set, empty meaning "none of the labels";
- with ``label_separator`` declared, a string split on it (``"sports|politics"``, a CSV cell); an
  empty or missing cell is then the empty set, since CSV cannot tell an empty list from a blank.

Anything else (a dict, a missing value where a label is needed, a list inside a list)
is a :class:`DataError` naming the source, the row and the column.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tasuki.plugin import DataError, SettingError, is_missing, label_name

log = logging.getLogger(__name__)

WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+\.0+")
"""A whole number written with a zero fraction (``3.0``), as pandas writes an integer column that had gaps."""

SKEW_RATIO = 3.0
"""A single-label training set whose largest class has over this many times the rows of its smallest
is skewed: its main metric is macro F1 (accuracy would reward ignoring the rare classes)."""


def class_names(data: Any, column: str) -> list[str] | None:
    """The names of a ``datasets.ClassLabel`` column (or of a list of them), where integer ``i`` means ``names[i]``."""
    feature = data.features.get(column) if column in data.column_names else None
    feature = getattr(feature, "feature", feature)  # Sequence(ClassLabel) / List(ClassLabel): the item's names
    names = getattr(feature, "names", None)
    return list(names) if names else None


def _scalar_name(value: Any, names: Sequence[str] | None = None) -> str | None:
    """The label name of one scalar value, or None when it cannot be a label."""
    if isinstance(value, bool):  # before int (bool is an int subclass): True is "True", not "1"
        return str(value)
    if isinstance(value, str):
        name = label_name(value)
        if WHOLE_NUMBER.fullmatch(name):  # "3.0" (a CSV cell) is the class "3", as 3.0 in JSON is
            return str(int(name.split(".")[0]))
        return name or None
    if isinstance(value, int):
        return names[value] if names and 0 <= value < len(names) else str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def _refuse_missing_word(value: Any, where: str) -> None:
    """``nan``, ``None``, ``N/A``... (what pandas, R and spreadsheets write for an empty cell) is a missing label,
    never a class of its own: the same file read by pandas first was refused, its NaN."""
    if isinstance(value, str) and value.strip() and is_missing(value):
        raise DataError(f"{where}: label {value!r} is how a missing value is written (pandas, R, spreadsheets); "
                        f"remove the row or give it its label (a class of that name: call it otherwise, e.g. 'no_label')")


def is_list(value: Any) -> bool:
    """Whether a raw label value is a list of labels (JSON list, parquet list)."""
    return isinstance(value, (list, tuple))


def read_row(value: Any, row: int, source: str, column: str, separator: str | None,
             names: Sequence[str] | None = None) -> list[str] | str:
    """One row's labels: a name (a scalar), or a list of names (a list, or a string split on ``separator``).

    ``names``: a ClassLabel column's names (:func:`class_names`), which its integers stand for.

    :raises DataError: the value is neither a list nor a string/number, or holds an unusable item.
    """
    where = f"{source}: row {row}, column {column!r}"
    if separator is not None and (_missing(value) or isinstance(value, str)):
        value = [] if _missing(value) else [part for part in value.split(separator) if part.strip()]
    if is_list(value):
        found = []
        for item in value:
            _refuse_missing_word(item, where)
            name = _scalar_name(item, names)
            if name is None:
                raise DataError(f"{where}: list item {item!r} is not a label; items must be text or numbers")
            found.append(name)
        return list(dict.fromkeys(found))  # a label twice in a row is the same label once
    _refuse_missing_word(value, where)
    name = _scalar_name(value, names)
    if name is None:
        what = "missing label" if _missing(value) else f"label {value!r} is a {type(value).__name__}"
        raise DataError(f"{where}: {what}; a label is text, a number or a list of them"
                        + ("" if separator else " (a CSV cell with several labels needs --option label_separator=...)"))
    return name


def read_column(values: Iterable[Any], source: str, column: str, separator: str | None,
                names: Sequence[str] | None = None) -> Iterator[list[str] | str]:
    """:func:`read_row` over a column, rows numbered from 1."""
    for row, value in enumerate(values, start=1):
        yield read_row(value, row, source, column, separator, names)


def as_set(labels: list[str] | str, multi_label: bool, row: int, source: str, column: str) -> list[str]:
    """A row's labels as the task reads them: a list of names (multi-label) or a one-name list (single-label).

    :raises DataError: a single-label task given a list that is not exactly one label.
    """
    if isinstance(labels, str):
        return [labels]
    if not multi_label and len(labels) != 1:
        raise DataError(f"{source}: row {row}, column {column!r}: {len(labels)} labels {labels} in a single-label task; "
                        f"give one label per row, or --option multi_label=true")
    return labels


def class_counts(rows: Iterable[list[str]]) -> Counter[str]:
    """How many rows carry each label."""
    counts: Counter[str] = Counter()
    for labels in rows:
        counts.update(labels)
    return counts


def warn_about_case_twins(counts: Counter[str]) -> None:
    """Warn about labels that differ only in case (``Positive`` and ``positive``): two classes to the model,
    most likely one to whoever wrote the data."""
    twins: dict[str, list[str]] = {}
    for label in counts:
        twins.setdefault(label.casefold(), []).append(label)
    for names in (sorted(group) for group in twins.values() if len(group) > 1):
        log.warning("labels %s differ only in case (%s rows): they are different classes; make them one label in "
                    "the data if they mean the same", " and ".join(map(repr, names)),
                    " and ".join(str(counts[n]) for n in names))


def is_skewed(counts: Counter[str], labels: Sequence[str]) -> bool:
    """Largest class over :data:`SKEW_RATIO` times the smallest (a label with no row counts as 0)."""
    sizes = [counts.get(label, 0) for label in labels]
    return bool(sizes) and max(sizes) > SKEW_RATIO * min(sizes)


def parse_weights(text: str | None) -> str | dict[str, float] | None:
    """``class_weights``: ``"balanced"``, or ``label=weight`` pairs (``"spam=4,ham=1"``) as a dict.

    :raises SettingError: anything else, or a weight that is not a positive number.
    """
    if text is None or text.strip() == "balanced":
        return None if text is None else "balanced"
    weights: dict[str, float] = {}
    for pair in text.split(","):
        name, sep, number = pair.partition("=")
        try:
            weight = float(number) if sep else math.nan
        except ValueError:
            weight = math.nan
        if not name.strip() or not (math.isfinite(weight) and weight > 0) or name.strip() in weights:
            raise SettingError(f"option of task 'classify' 'class_weights': {pair!r} in {text!r} is not allowed; allowed: "
                               f"'balanced' or label=weight pairs with positive weights, each label once ('spam=4,ham=1')")
        weights[name.strip()] = weight
    return weights


def weight_vector(spec: str | dict[str, float], labels: Sequence[str], counts: Counter[str]) -> list[float]:
    """One loss weight per label: ``balanced`` is ``rows / (labels * rows of the label)`` (scikit-learn's
    rule); given pairs name every weight they set, the other labels keep 1.

    :raises SettingError: a pair names a label the training data does not have.
    """
    if spec == "balanced":
        total = sum(counts.get(label, 0) for label in labels)
        return [total / (len(labels) * counts[label]) if counts.get(label) else 1.0 for label in labels]
    unknown = sorted(set(spec) - set(labels))
    if unknown:
        raise SettingError(f"option of task 'classify' 'class_weights': labels {unknown} are not in the training "
                           f"labels {list(labels)}")
    return [spec.get(label, 1.0) for label in labels]


def raw_items(values: Iterable[Any]) -> Iterator[Any]:
    """Each scalar of a label column, list items one by one: what the whitespace warning counts."""
    for value in values:
        if is_list(value):
            yield from value
        else:
            yield value


def strata(rows: Sequence[Sequence[str]]) -> list[str]:
    """Each row's rarest label (``""`` for a row without any): a key that holds every label, the rare ones
    first, in proportion on both sides of a held-out split (multi-label rows have one key, their rarest label)."""
    counts = class_counts(rows)
    return [min(labels, key=lambda label: (counts[label], label)) if labels else "" for labels in rows]


def check_options(options: Any, task: str) -> None:
    """Refuse, before any data is read, the options no data could make right: an empty separator, a threshold
    outside [0, 1], ``regression=true`` (a score per text is task ``regression``; ``classify-pairs`` scores two), and
    with ``multi_label`` given (or saved), the other kind's options (:func:`check_kind`)."""
    if options.label_separator == "":
        raise SettingError(f"option of task {task!r} 'label_separator': '' is not allowed; allowed: a non-empty text")
    for label, value in options.thresholds.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise SettingError(f"option of task {task!r} 'thresholds': {label!r}: {value!r} is not allowed; "
                               f"allowed: a number from 0 to 1")
    if options.regression:
        raise SettingError(f"option of task {task!r} 'regression': true is not allowed; allowed: false (or unset). "
                           f"A score for each text: task 'regression' (tasuki train regression); for two texts: classify-pairs")
    if options.multi_label is not None:
        check_kind(options, options.multi_label, task)


def check_kind(options: Any, multi_label: bool, task: str) -> None:
    """Refuse the options of the other kind of task: class weights are single-label, thresholds multi-label."""
    if multi_label and options.class_weights is not None:
        raise SettingError(f"option of task {task!r} 'class_weights': single-label only; this task is multi-label")
    given = [name for name in ("threshold", "thresholds") if getattr(options, name) not in (None, {})]
    if not multi_label and given:
        raise SettingError(f"option of task {task!r} {given[0]!r}: multi-label only; this task is single-label "
                           f"(--option multi_label=true for a sigmoid per label)")


def given_thresholds(thresholds: dict[str, float], labels: Sequence[str], task: str) -> dict[str, float]:
    """The user's thresholds, once the labels are known: a label the data does not have (a typo) is refused,
    not silently left out."""
    unknown = sorted(set(thresholds) - set(labels))
    if unknown:
        raise SettingError(f"option of task {task!r} 'thresholds': unknown label {unknown[0]!r}; the labels are "
                           f"{', '.join(labels)}")
    return dict(thresholds)


def refuse_scores(values: Sequence[Any], column: str, task: str) -> None:
    """Refuse a label column of scores: every value a number and some with a fraction (``3.7``, ``"0.25"``).

    Read as classes they would silently train one class per distinct score. Whole numbers (``3``, and ``3.0``,
    which pandas makes of integers with gaps) are classes; ``--option regression=false`` makes scores classes too.
    """
    from tasuki_classify.regression import number

    numbers = [number(v) for v in values]
    fractions = [v for v, n in zip(values, numbers) if n is not None and not n.is_integer()]
    if values and fractions and all(n is not None for n in numbers):
        raise DataError(f"training data: column {column!r} holds numbers with decimals ({', '.join(map(str, fractions[:3]))}"
                        f"{', ...' if len(fractions) > 3 else ''}): scores, and task {task!r} predicts classes. A score "
                        f"for each text: task 'regression' (tasuki train regression); for two texts: classify-pairs; to train "
                        f"each number as a class: --option regression=false")
