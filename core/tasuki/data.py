"""Load examples from wherever users keep them into a ``datasets.Dataset``.

Sources: a ``datasets.Dataset`` (or a list of dicts), a local file (csv, tsv, jsonl,
json, parquet, txt, or a format a task reads itself, e.g. CoNLL), or a Hub dataset name
(``tyqiangz/multilingual-sentiments`` with ``config``/``split``). Files are decoded here,
once: a UTF-8 BOM is dropped, CRLF becomes LF, whitespace-only lines are skipped, and a
file that is not UTF-8 fails with a message naming the byte and line (pass
``encoding="latin-1"``, or the file's real encoding, to read it).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.errors import DataError
from tasuki.settings import SettingError

if TYPE_CHECKING:
    from datasets import Dataset

    from tasuki.task import Task

GENERIC_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".txt")
STREAM_ABOVE = 64 * 2**20
"""Files larger than this (64 MiB) are read in a stream (:func:`tasuki.streaming.read_dataset`)."""
logger = logging.getLogger(__name__)
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a whole book in one cell is a text, not an error


def read_text(path: str | Path, encoding: str | None = None) -> str:
    """Decode a text file: UTF-8 (BOM allowed) unless ``encoding`` is given; LF line ends."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from None
    try:
        text = raw.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line}: cannot decode byte 0x{raw[exc.start]:02x} as {encoding or 'UTF-8'}. "
            f"Pass the file's encoding, e.g. encoding='latin-1' (CLI: --encoding latin-1) or 'cp932' for "
            f"Shift-JIS Japanese"
        ) from None
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}") from None
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def unreadable(path: Path, exc: OSError) -> DataError:
    """``cannot read FILE: permission denied`` (the system's reason), for a file that exists but will not open."""
    return DataError(f"cannot read {path}: {(exc.strerror or str(exc)).lower()}")


def check_readable(path: Path) -> None:
    """:class:`DataError` for a file that cannot be opened (no read permission), before any reader opens it."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise unreadable(path, exc) from None


def csv_format(suffix: str) -> dict[str, Any]:
    """``csv.reader`` arguments for ``.csv`` or ``.tsv``: tab-separated values have no quoting, a ``"`` is text."""
    return {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if suffix == ".tsv" else {"delimiter": ","}


def check_header(path: Path, names: Sequence[str]) -> None:
    """Refuse a header that names a column twice (a reader would keep only the last one's values)."""
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise DataError(f"{path}: duplicate column {', '.join(map(repr, repeated))} in the header; "
                        f"give every column its own name")


def _read_csv(path: Path, text: str, suffix: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text), **csv_format(suffix))
    if not reader.fieldnames:
        raise DataError(f"{path}: empty file (no header row)")
    reader.fieldnames = [name.strip() for name in reader.fieldnames]
    check_header(path, reader.fieldnames)
    rows = []
    for row in reader:
        if all(value is None or not str(value).strip() for value in row.values()):
            continue  # a whitespace-only line
        if None in row:
            raise DataError(f"{path}: line {reader.line_num}: more fields than the header has")
        rows.append(row)
    return rows


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


def json_row(line: str, path: Path, number: int) -> dict[str, Any]:
    """One JSON Lines row: ``NaN`` is a missing value; not an object, or a key given twice, is a DataError."""
    try:
        row = json.loads(line, parse_constant=_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {number}: invalid JSON ({exc.msg})") from None
    except _DuplicateKey as exc:
        raise DataError(f"{path}: line {number}: duplicate key {exc.args[0]!r} in one object") from None
    if not isinstance(row, dict):
        raise DataError(f"{path}: line {number}: expected a JSON object, got {type(row).__name__}")
    return row


def _read_jsonl(path: Path, text: str) -> list[dict[str, Any]]:
    return [json_row(line, path, number) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]


def _read_json(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text, parse_constant=_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    except _DuplicateKey as exc:
        raise DataError(f"{path}: duplicate key {exc.args[0]!r} in one object") from None
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        value = value["data"]
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise DataError(f"{path}: expected a list of JSON objects (or {{'data': [...]}})")
    return value


def _read_lines(path: Path, text: str) -> list[dict[str, Any]]:
    return [{"text": line.strip()} for line in text.split("\n") if line.strip()]


GENERIC_READERS = {
    ".csv": lambda path, text: _read_csv(path, text, ".csv"),
    ".tsv": lambda path, text: _read_csv(path, text, ".tsv"),
    ".jsonl": _read_jsonl,
    ".json": _read_json,
    ".txt": _read_lines,
}


def read_file(path: str | Path, task_cls: type[Task] | None = None, encoding: str | None = None, *,
              stream: bool = False) -> Dataset:
    """Read one local file into a Dataset, using the task's own reader for its formats.

    csv, tsv, jsonl and txt files above 64 MiB, or any of them with ``stream=True``, stream row by
    row into a cached Arrow file (flat memory) instead of being read whole.
    """
    from datasets import Dataset

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    check_readable(path)
    suffix = path.suffix.lower()
    readers = {**GENERIC_READERS, **(task_cls.readers() if task_cls else {})}
    if suffix == ".parquet" and suffix not in readers:
        return Dataset.from_parquet(str(path))
    if suffix not in readers:
        known = ", ".join(sorted({*readers, ".parquet"}))
        raise DataError(f"{path}: unknown file type {suffix!r}; tasuki reads {known}")
    streamable = suffix in (".csv", ".tsv", ".jsonl", ".txt") and readers[suffix] is GENERIC_READERS[suffix]
    if streamable and (stream or path.stat().st_size > STREAM_ABOVE):
        from tasuki.streaming import read_dataset

        # a large file streams row by row into a cached Arrow file: flat memory, read once per version
        logger.info("%s: %.0f MB, read in a stream into the data cache", path, path.stat().st_size / 1e6)
        return read_dataset(path, task_cls, encoding)
    rows = readers[suffix](path, read_text(path, encoding))
    if not rows:
        raise DataError(f"{path}: no examples in file")
    return rows_to_dataset(rows, str(path))


def rows_to_dataset(rows: Sequence[Mapping[str, Any]], source: str, *, content_fingerprint: bool = True) -> Dataset:
    """A Dataset from rows, with a clear error when a column mixes types.

    :param content_fingerprint: name the dataset by a hash of its content, as ``datasets`` does
        (the feature cache and ``--resume`` recognise the same data by it). Prediction inputs
        need no name: without it, building the dataset costs a tenth (0.2 ms, not 1.8 ms for one text).
    """
    import pyarrow as pa
    from datasets import Dataset

    try:
        if not content_fingerprint and rows:
            return unnamed_dataset({key: [row.get(key) for row in rows] for key in rows[0]})  # as from_list does
        return Dataset.from_list([dict(row) for row in rows])
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise DataError(f"{source}: columns must keep one type across rows ({exc})") from None
    except UnicodeEncodeError:
        for number, row in enumerate(rows, start=1):
            for column, value in row.items():
                for text in value if isinstance(value, list) else [value]:
                    if isinstance(text, str):
                        _check_encodable(text, f"{source}: row {number}, column {column!r}")
        raise


def unnamed_dataset(columns: Mapping[str, list]) -> Dataset:
    """An in-memory Dataset of ``columns`` with a random fingerprint: for data used once (a prediction
    call, a server batch), where hashing the table as ``Dataset.from_dict`` does costs more than the work."""
    import uuid

    from datasets import Dataset
    from datasets.table import InMemoryTable

    return Dataset(InMemoryTable.from_pydict(dict(columns)), fingerprint=uuid.uuid4().hex)


def load_data(
    source: Any,
    task_cls: type[Task] | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    with_targets: bool = True,
    config: str | None = None,
    split: str | None = None,
    encoding: str | None = None,
    saved_columns: Mapping[str, str] | None = None,
    stream: bool = False,
) -> tuple[Dataset, str]:
    """Load ``source`` and return ``(dataset, description)`` with columns renamed to the task's.

    :param source: a file name, a Hub dataset name, a ``datasets.Dataset``, a pandas DataFrame or a list of dicts.
    :param columns: ``{task_column: user_column}``, e.g. ``{"text": "review", "label": "stars"}``.
    :param with_targets: also require the task's target columns (training and evaluation).
    :param config, split: for Hub datasets (``split`` defaults to ``train``).
    :param saved_columns: the mapping a model was trained with: applied where the data has the
        user's column and not the task's (``columns`` entries win).
    :param stream: read a file row by row into a cached Arrow file (see :func:`read_file`).
    """
    from datasets import Dataset, DatasetDict

    if columns is not None and not isinstance(columns, Mapping):
        raise SettingError(f"'columns': expected a mapping {{task column: your column}}, e.g. {{'text': 'review', "
                           f"'label': 'stars'}} (CLI: --column text=review); got a {type(columns).__name__} {columns!r}")
    if isinstance(source, DatasetDict):
        raise DataError(f"got a DatasetDict with splits {list(source)}; pass one split, e.g. data['train']")
    if isinstance(source, Dataset):
        dataset, where = source, "dataset"
    elif isinstance(source, (list, tuple)):
        dataset, where = rows_to_dataset(source, "rows"), "rows"
    elif _is_dataframe(source):
        dataset, where = _from_pandas(source), "DataFrame"
    elif not isinstance(source, (str, os.PathLike)):
        raise DataError(f"data: expected a file name, a Hub dataset name, a datasets.Dataset, a pandas DataFrame or "
                        f"a list of dicts; got a {type(source).__name__}")
    elif _exists(Path(source).expanduser()):
        where = str(Path(source).expanduser())
        dataset = read_file(where, task_cls, encoding, stream=stream)
    elif Path(source).suffix.lower() in (*GENERIC_SUFFIXES, ".parquet"):
        raise DataError(f"{source}: no such file")
    else:
        dataset, where = _load_hub(str(source), config, split), f"{source} ({split or 'train'})"
    if task_cls is not None:
        dataset = map_columns(dataset, task_cls, {**saved_for(dataset, saved_columns), **(columns or {})}, where,
                              with_targets=with_targets)
    return dataset, where


def hold_out(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """``(train, held out)``: ``fraction`` of ``dataset`` held out at random, rounded up as
    ``Dataset.train_test_split`` rounds; a fraction that leaves no training example is one line."""
    total = len(dataset)
    if math.ceil(fraction * total) >= total:
        digits = len(str(total)) + 1
        bound = math.floor((total - 1) / total * 10**digits) / 10**digits  # rounded down: itself allowed
        raise SettingError(f"training argument 'eval_split': {fraction!r} holds out all {total} examples; allowed for "
                           f"{total} examples: a number >= 0 and <= {bound} (one example at least must remain for "
                           f"training), or held-out data of its own (eval_data=, --eval-data)")
    split = dataset.train_test_split(test_size=fraction, seed=seed)
    return split["train"], split["test"]


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long to be a file (a text passed as data) is a Hub name or nothing
        return False


def _is_dataframe(value: Any) -> bool:
    pandas = sys.modules.get("pandas")  # not imported: then value cannot be a DataFrame
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _from_pandas(frame: Any) -> Dataset:
    """A DataFrame as a Dataset, its index dropped (a row's position is its number, as in a file)."""
    import pyarrow as pa
    from datasets import Dataset

    names = [str(name) for name in frame.columns]
    if repeated := [name for name, count in Counter(names).items() if count > 1]:
        raise DataError(f"DataFrame: duplicate column {', '.join(map(repr, repeated))}; give every column its own name")
    try:
        return Dataset.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"DataFrame: columns must keep one type across rows ({exc})") from None


def saved_for(dataset: Dataset, saved: Mapping[str, str] | None) -> dict[str, str]:
    """The entries of a model's saved mapping that apply to ``dataset`` (its column is there, the task's is not)."""
    found = set(dataset.column_names)
    return {task: user for task, user in (saved or {}).items() if user in found and task not in found}


def _load_hub(name: str, config: str | None, split: str | None) -> Dataset:
    import datasets

    try:
        return datasets.load_dataset(name, config, split=split or "train")
    except Exception as exc:  # offline, unknown name, missing config: say which
        raise DataError(
            f"could not load {name!r} as a file or a Hub dataset ({type(exc).__name__}: {exc})"
        ) from None


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


def check_texts(dataset: Dataset, columns: Sequence[str], source: str) -> None:
    """Every value a non-empty string that UTF-8 can encode (no lone surrogates); errors name the row."""
    for column in columns:
        for row, value in enumerate(column_values(dataset, column), start=1):
            if not isinstance(value, str):
                raise DataError(f"{source}: row {row}, column {column!r}: expected text, got {value!r}")
            if not value.strip():
                raise DataError(f"{source}: row {row}, column {column!r}: empty text")
            _check_encodable(value, f"{source}: row {row}, column {column!r}")


def check_targets(dataset: Dataset, columns: Sequence[str], source: str) -> None:
    """No target empty, null or NaN (a CSV ``NaN`` must not become a class of its own)."""
    for column in columns:
        for row, value in enumerate(column_values(dataset, column), start=1):
            if is_missing(value):
                raise DataError(f"{source}: row {row}, column {column!r}: missing {column} ({value!r}); "
                                f"remove the row or give it a value")


def _check_encodable(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DataError(f"{where}: invalid character {text[exc.start]!r} at position {exc.start} (a lone "
                        f"surrogate: broken UTF-16 in the source, or bytes that are not UTF-8 on the command line)"
                        ) from None


def detect_language(data: Dataset, sample: int = 200) -> str:
    """``"ja"`` when at least half of the first ``sample`` rows hold Japanese text, else ``"en"``.

    A row holds Japanese text when one of its strings (or lists of strings, such as NER tokens)
    is mostly kana and kanji: labels and tags in Latin script do not hide it, whatever the
    columns are called.
    """
    from tasuki.japanese import japanese_share

    rows = data.select(range(min(sample, len(data))))
    japanese = 0
    for row in rows:
        values = [" ".join(v for v in value if isinstance(v, str)) if isinstance(value, list) else value
                  for value in row.values()]
        japanese += any(isinstance(v, str) and japanese_share(v) >= 0.5 for v in values)
    return "ja" if rows.num_rows and japanese * 2 >= rows.num_rows else "en"
