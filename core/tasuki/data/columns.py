"""The user's columns mapped to the task's, and the checks every task's data passes (texts, targets)."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tasuki.data.tables import check_encodable
from tasuki.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

    from tasuki.task import Task

logger = logging.getLogger(__name__)


def saved_for(dataset: Dataset, saved: Mapping[str, str] | None) -> dict[str, str]:
    """The entries of a model's saved mapping that apply to ``dataset`` (its column is there, the task's is not)."""
    found = set(dataset.column_names)
    return {task: user for task, user in (saved or {}).items() if user in found and task not in found}


def check_mapping(task_cls: type[Task], columns: Mapping[str, str] | None) -> None:
    """Refuse a mapping entry whose task column the task never reads (``--column lable=topic``): left in, it
    would leave the task's own column in place and train on it. A task that declares no columns is not checked."""
    columns = dict(columns or {})
    known = task_cls.known_columns()
    unknown = [name for name in columns if name not in known]
    if known and unknown:
        name = unknown[0]
        raise DataError(f"--column {name}={columns[name]} (Python: columns={{{name!r}: {columns[name]!r}}}): task "
                        f"{task_cls.name!r} has no column {name!r}; allowed: {', '.join(known)}")
    twice = [yours for yours in columns.values() if list(columns.values()).count(yours) > 1]
    if twice:
        both = [name for name, yours in columns.items() if yours == twice[0]]
        raise DataError(f"--column: {' and '.join(map(repr, both))} both map to your column {twice[0]!r}; a column "
                        f"of yours is one task column")


def map_columns(
    dataset: Dataset,
    task_cls: type[Task],
    columns: Mapping[str, str] | None,
    source: str,
    *,
    with_targets: bool,
) -> Dataset:
    """Rename user columns to the task's (``{task_column: user_column}``) and check the task's columns.

    A missing column is reported with every column the task needs, the columns as found in the
    source, and the mapping that fixes it.
    """
    columns = dict(columns or {})
    found = list(dataset.column_names)
    absent = {task: user for task, user in columns.items() if user not in found}
    if absent:
        raise DataError(
            f"{source}: no column {', '.join(map(repr, absent.values()))} (mapped to "
            f"{', '.join(map(repr, absent))}); found columns: {', '.join(found) or 'none'}"
        )
    renames = {user: task for task, user in columns.items() if user != task}
    if renames:
        clashing = [task for task in renames.values() if task in found and task not in renames]
        dataset = dataset.remove_columns(clashing).rename_columns(renames)
    require_columns(dataset, task_cls.required_columns(with_targets), source, task=task_cls.name, found=found,
                    mapped=columns)
    return dataset


def require_columns(
    dataset: Dataset, needed: Sequence[str], source: str, *, task: str,
    found: Sequence[str] | None = None, mapped: Mapping[str, str] | None = None,
) -> None:
    """:class:`~tasuki.errors.DataError` listing every missing column and the mapping that fixes it."""
    missing = [name for name in needed if name not in dataset.column_names]
    if not missing:
        return
    found = list(found if found is not None else dataset.column_names)
    unused = [c for c in found if c not in (mapped or {}).values() and c not in needed]
    # name the user's columns only when there is exactly one candidate for each missing one; a guess
    # among several (id, review, stars) would suggest a wrong mapping
    guess = len(unused) == len(missing)
    pairs = [(name, unused[i] if guess else f"YOUR_{name.upper()}_COLUMN") for i, name in enumerate(missing)]
    cli = " ".join(f"--column {task_column}={user_column}" for task_column, user_column in pairs)
    python = ", ".join(f"{task_column!r}: {user_column!r}" for task_column, user_column in pairs)
    raise DataError(
        f"{source}: missing column {', '.join(map(repr, missing))}: task {task!r} needs {', '.join(needed)}; "
        f"found columns: {', '.join(found) or 'none'}. Map yours with {cli} (Python: columns={{{python}}})"
    )


MISSING_TARGETS = ("", "nan", "null", "none", "na", "n/a")
"""Target values that mean "no value" in files written by pandas, R, spreadsheets and JSON."""


def is_missing(value: Any) -> bool:
    """Empty, null or NaN: a target that is not there."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value  # NaN
    if isinstance(value, str):
        return value.strip().lower() in MISSING_TARGETS
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    return False


def column_values(dataset: Dataset, column: str, chunk: int = 1000) -> Iterator[Any]:
    """A column's values in order, ``chunk`` rows at a time: a memory-mapped column of gigabytes
    is never turned into one Python list."""
    if dataset._indices is None:  # the table as stored: slice the Arrow column directly (no dataset copies)
        values = dataset.data.column(column)
        for start in range(0, len(values), chunk):
            yield from values.slice(start, chunk).to_pylist()
        return
    for batch in dataset.select_columns([column]).iter(batch_size=chunk):
        yield from batch[column]


def repeated_inputs(dataset: Dataset, inputs: Sequence[str], target: str | None,
                    most: int = 1_000_000) -> tuple[int, int]:
    """``(rows whose inputs an earlier row has, inputs given two different targets)`` over the first ``most``
    rows: copies count twice in training and reach the held-out set beside themselves, and one text with two
    labels cannot be learnt both ways. Hashes only, so a million rows cost tens of megabytes."""
    import itertools
    import json

    columns = [c for c in inputs if c in dataset.column_names]
    if not columns:
        return 0, 0
    keys = zip(*(column_values(dataset, c) for c in columns))
    targets = column_values(dataset, target) if target in dataset.column_names else itertools.repeat(None)
    first: dict[int, int] = {}
    repeats, conflicting = 0, set()
    for key, value in itertools.islice(zip(keys, targets), most):
        digest = hash(key)
        answer = hash(json.dumps(value, sort_keys=True, default=str))
        if digest in first:
            repeats += 1
            if first[digest] != answer:
                conflicting.add(digest)
        else:
            first[digest] = answer
    return repeats, len(conflicting)


INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
"""Unicode categories a text of nothing else holds no word in: controls (NUL), formats (zero-width space, BOM),
separators."""


def check_texts(dataset: Dataset, columns: Sequence[str], source: str) -> None:
    """Every value a non-empty string that UTF-8 can encode (no lone surrogates); errors name the row."""
    for column in columns:
        for row, value in enumerate(column_values(dataset, column), start=1):
            if not isinstance(value, str):
                raise DataError(f"{source}: row {row}, column {column!r}: expected text, got {value!r}")
            if not value.strip():
                raise DataError(f"{source}: row {row}, column {column!r}: empty text")
            if all(unicodedata.category(c) in INVISIBLE for c in value):  # a tokenizer reads nothing in them
                raise DataError(f"{source}: row {row}, column {column!r}: empty text (only invisible characters: "
                                f"{value[:20]!r})")
            check_encodable(value, f"{source}: row {row}, column {column!r}")


def check_targets(dataset: Dataset, columns: Sequence[str], source: str) -> None:
    """No target empty, null or NaN (a CSV ``NaN`` must not become a class of its own)."""
    for column in columns:
        for row, value in enumerate(column_values(dataset, column), start=1):
            if is_missing(value):
                raise DataError(f"{source}: row {row}, column {column!r}: missing {column} ({value!r}); "
                                f"remove the row or give it a value")


def label_name(value: Any) -> Any:
    """A class label as tasks learn, check and predict it: text without surrounding whitespace
    (``"negative "`` from a hand-edited CSV is the class ``"negative"``); other values as they are."""
    return value.strip() if isinstance(value, str) else value


def stripped_labels(values: Iterable[Any], source: str, column: str = "label") -> Iterator[Any]:
    """``values`` through :func:`label_name`; when all are read, one warning counts those that lost whitespace."""
    stripped: list[str] = []
    count = 0
    for value in values:
        name = label_name(value)
        if name != value:
            count += 1
            if len(stripped) < 3 and value not in stripped:
                stripped.append(value)
        yield name
    if count:
        logger.warning("%s: %d labels of column %r had surrounding whitespace (e.g. %s); they are read without it",
                       source, count, column, ", ".join(map(repr, stripped)))
