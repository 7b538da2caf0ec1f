"""JSON files: a ``.json`` (a list of rows, JSON Lines, or a frame as pandas writes it) and one JSON Lines row.

``NaN`` is a missing value (pandas writes it so), a key given twice in one object is refused (``json`` would
keep the last value), and invalid JSON names its line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tasuki.data.headers import check_header
from tasuki.errors import DataError


def _constant(name: str) -> float | None:
    """JSON's non-standard ``NaN`` is a missing value (pandas writes it so); infinities stay numbers."""
    return None if name == "NaN" else float(name)


class _DuplicateKey(Exception):
    """A JSON object names a key twice (``json`` would keep the last value)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(key for key, _ in pairs if key in seen or seen.add(key)))
    return value


def _parse_json(text: str, path: Path, line: int | None = None) -> Any:
    """``text`` as JSON, ``NaN`` as a missing value; invalid JSON or a key given twice is a DataError
    naming ``line`` (a JSON Lines row), or the parser's line for a whole JSON file."""
    try:
        return json.loads(text, parse_constant=_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {line or exc.lineno}: invalid JSON ({exc.msg})") from None
    except _DuplicateKey as exc:
        where = f"line {line}: " if line else ""
        raise DataError(f"{path}: {where}duplicate key {exc.args[0]!r} in one object") from None


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def json_row(line: str, path: Path, number: int) -> dict[str, Any]:
    """One JSON Lines row: ``NaN`` is a missing value; not an object, or a key given twice, is a DataError."""
    row = _parse_json(line, path, number)
    if not isinstance(row, dict):
        hint = " (a JSON array of rows is a .json file)" if isinstance(row, list) else ""
        raise DataError(f"{path}: line {number}: expected a JSON object, got {type(row).__name__}{hint}")
    return row


def read_json(path: Path, text: str) -> list[dict[str, Any]]:
    """The rows of a ``.json`` file's decoded ``text``: a list of objects (or one under ``"data"``), JSON Lines,
    or a pandas frame (``to_json``'s default layout, ``orient="index"``, ``"split"`` or ``"table"``)."""
    try:
        value = _parse_json(text, path)
    except DataError as exc:  # JSON Lines named .json (what datasets' to_json writes by default) read as such
        lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
        if "(Extra data)" not in str(exc) or not _is_object(lines[0][1]):
            raise
        return [json_row(line, path, number) for number, line in lines]  # an error names its line
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        columns = value.get("columns")  # pandas' orient="split": rows as lists under named columns
        if isinstance(columns, list) and all(isinstance(row, list) and len(row) == len(columns) for row in value["data"]):
            check_header(path, [str(name) for name in columns])
            return [dict(zip(columns, row)) for row in value["data"]]
        value = value["data"]
    elif isinstance(value, dict) and value and all(isinstance(inner, dict) for inner in value.values()):
        value = _pandas_frame(value)
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise DataError(f"{path}: expected a list of JSON objects (or {{'data': [...]}}); from pandas, save with "
                        f"df.to_json(path, orient='records')")
    return value


def _pandas_frame(frame: dict[str, dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The rows of a frame saved by pandas' ``to_json()``: ``{column: {index: value}}`` (its default) or, with
    ``orient="index"``, ``{index: {column: value}}``. The index is the side whose keys are all integers; when
    neither side or both are, the layout is not guessed (None)."""
    inner = [list(values) for values in frame.values()]
    by_index = all(_index_keys(keys) for keys in inner) and all(keys == inner[0] for keys in inner)
    if by_index == _index_keys(list(frame)):
        return None
    if by_index:  # {column: {index: value}}
        return [{column: frame[column][key] for column in frame} for key in inner[0]]
    names = set(map(tuple, inner))
    return list(frame.values()) if len(names) == 1 else None


def _index_keys(keys: list[str]) -> bool:
    return all(key.lstrip("-").isdigit() for key in keys)
