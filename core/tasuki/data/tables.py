"""Rows into a ``datasets.Dataset``: one clear error when a column mixes types or a text cannot be encoded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tasuki.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset


def rows_to_dataset(rows: Sequence[Mapping[str, Any]], source: str, *, content_fingerprint: bool = True) -> Dataset:
    """A Dataset from rows, with a clear error when a column mixes types; a key missing from a row is None there
    (a column that first appears in a later row is kept, not dropped).

    :param content_fingerprint: name the dataset by a hash of its content, as ``datasets`` does
        (the feature cache and ``--resume`` recognise the same data by it). Prediction inputs
        need no name: without it, building the dataset costs a tenth (0.2 ms, not 1.8 ms for one text).
    """
    import pyarrow as pa
    from datasets import Dataset

    odd = next((number for number, row in enumerate(rows, start=1) if not isinstance(row, Mapping)), None)
    if odd is not None:  # a (text, label) tuple was an AttributeError from row.get
        raise DataError(f"{source}: row {odd} is a {type(rows[odd - 1]).__name__}, not a row of named columns; give "
                        f"each row as a dict ({{'text': ..., 'label': ...}}), or a DataFrame")
    keys = list(dict.fromkeys(key for row in rows for key in row))  # from_list keeps the first row's keys only
    try:
        if not content_fingerprint and rows:
            return unnamed_dataset({key: [row.get(key) for row in rows] for key in keys})
        return Dataset.from_list([{key: row.get(key) for key in keys} for row in rows])
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise DataError(mixed_types(rows, source) or f"{source}: columns must keep one type across rows ({exc})"
                        ) from None
    except UnicodeEncodeError:
        for number, row in enumerate(rows, start=1):
            for column, value in row.items():
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str):
                        check_encodable(text, f"{source}: row {number}, column {column!r}")
        raise


def mixed_types(rows: Sequence[Mapping[str, Any]], source: str, first: int = 1) -> str | None:
    """The message naming the first column whose values differ in kind (a number in one row, a text in
    another), with both rows (numbered from ``first``); None when every column keeps one kind."""
    seen: dict[str, tuple[str, int, Any]] = {}
    for number, row in enumerate(rows, start=first):
        for column, value in row.items():
            if value is None:
                continue
            kind = _KINDS.get(type(value), type(value).__name__)
            earlier = seen.setdefault(column, (kind, number, value))
            if earlier[0] != kind:
                return (f"{source}: column {column!r} holds {earlier[0]} in row {earlier[1]} ({earlier[2]!r}) and "
                        f"{kind} in row {number} ({value!r}): a column keeps one type across rows")
    return None


_KINDS = {bool: "true/false", int: "a number", float: "a number", str: "a text", list: "a list", dict: "an object"}


def unnamed_dataset(columns: Mapping[str, list]) -> Dataset:
    """An in-memory Dataset of ``columns`` with a random fingerprint: for data used once (a prediction
    call, a server batch), where hashing the table as ``Dataset.from_dict`` does costs more than the work."""
    import uuid

    from datasets import Dataset
    from datasets.table import InMemoryTable

    return Dataset(InMemoryTable.from_pydict(dict(columns)), fingerprint=uuid.uuid4().hex)


def check_encodable(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DataError(f"{where}: invalid character {text[exc.start]!r} at position {exc.start} (a lone "
                        f"surrogate: broken UTF-16 in the source, or bytes that are not UTF-8 on the command line)"
                        ) from None
