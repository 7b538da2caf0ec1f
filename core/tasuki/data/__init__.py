"""Load examples from wherever users keep them into a ``datasets.Dataset``.

Sources: a ``datasets.Dataset`` (or a list of dicts), a local file (csv, tsv, jsonl,
json, parquet, txt, an Excel workbook, or a format a task reads itself, e.g. CoNLL), a folder of text
files, in label folders or not (:mod:`~tasuki.data.folders`), or a Hub dataset name
(``tyqiangz/multilingual-sentiments`` with ``config``/``split``). Files are decoded once:
a UTF-8 BOM is dropped, CRLF becomes LF, whitespace-only lines are skipped, and a
file that is not UTF-8 fails with a message naming the byte and line (pass
``encoding="latin-1"``, or the file's real encoding, to read it).

The package, from the bottom: :mod:`~tasuki.data.headers` (header rows) and :mod:`~tasuki.data.jsonfiles`,
:mod:`~tasuki.data.formats` (each format's readers), :mod:`~tasuki.data.spreadsheets` (workbooks),
:mod:`~tasuki.data.folders` (folders of text files), :mod:`~tasuki.data.tables` (rows into a Dataset),
:mod:`~tasuki.data.cache` (the Arrow data cache), :mod:`~tasuki.data.read` (one file: whole, row by row, or
streamed into the cache), :mod:`~tasuki.data.columns` (the user's columns mapped to the task's, and the data
checks); this module loads any source and names the data layer's public functions. Nothing here imports the
task, features, training or prediction modules: they import the data layer.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.data.cache import cached_rows
from tasuki.data.columns import (
    check_mapping,
    check_targets,
    check_texts,
    column_values,
    is_missing,
    label_name,
    map_columns,
    require_columns,
    saved_for,
    stripped_labels,
)
from tasuki.data.folders import unlabelled_refused
from tasuki.data.formats import GENERIC_SUFFIXES, read_text
from tasuki.data.read import decoded, encoding_refused, iter_rows, read_dataset, read_file
from tasuki.data.tables import mixed_types, rows_to_dataset, unnamed_dataset
from tasuki.errors import DataError
from tasuki.settings import SettingError

if TYPE_CHECKING:
    from datasets import Dataset

    from tasuki.task import Task

__all__ = [
    "GENERIC_SUFFIXES",
    "cached_rows",
    "check_mapping",
    "check_targets",
    "check_texts",
    "column_values",
    "detect_language",
    "encodings",
    "hold_out",
    "is_dataframe",
    "is_missing",
    "iter_rows",
    "japanese_share_of_rows",
    "label_name",
    "language_of",
    "load_data",
    "map_columns",
    "read_dataset",
    "read_file",
    "read_text",
    "require_columns",
    "rows_to_dataset",
    "saved_for",
    "stripped_labels",
    "unnamed_dataset",
]
logger = logging.getLogger(__name__)


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
    if encoding is not None and not isinstance(source, (str, os.PathLike)):
        raise encoding_refused(encoding, f"the data is a {type(source).__name__}, already decoded")
    if isinstance(source, DatasetDict):
        raise DataError(f"got a DatasetDict with splits {list(source)}; pass one split, e.g. data['train']")
    if isinstance(source, Dataset):
        dataset, where = source, "dataset"
    elif isinstance(source, (list, tuple)):
        dataset, where = rows_to_dataset(source, "rows"), "rows"
    elif is_dataframe(source):
        dataset, where = _from_pandas(source), "DataFrame"
    elif not isinstance(source, (str, os.PathLike)):
        raise DataError(f"data: expected a file name, a Hub dataset name, a datasets.Dataset, a pandas DataFrame or "
                        f"a list of dicts; got a {type(source).__name__}")
    elif _exists(Path(source).expanduser()):
        where = str(Path(source).expanduser())
        dataset = read_file(where, task_cls, encoding, stream=stream)
        if with_targets and Path(where).is_dir() and "label" not in dataset.column_names:
            raise unlabelled_refused(Path(where))
    elif Path(source).suffix.lower() in (*GENERIC_SUFFIXES, ".parquet"):
        raise DataError(f"{source}: no such file")
    elif encoding is not None:
        raise encoding_refused(encoding, f"{source} is no local file but a Hub dataset name, which the Hub decodes")
    else:
        dataset, where = _load_hub(str(source), config, split), f"{source} ({split or 'train'})"
    if getattr(dataset, "num_rows", None) == 0:  # a file says so as it is read; an empty frame would reach the tokenizer
        raise DataError(f"{where}: no examples")
    if task_cls is not None:
        check_mapping(task_cls, columns)  # the user's; a model's saved mapping was checked when it was trained
        dataset = map_columns(dataset, task_cls, {**saved_for(dataset, saved_columns), **(columns or {})}, where,
                              with_targets=with_targets)
    return dataset, where


def encodings(encoding: str | None, sources: Sequence[Any], task_cls: type[Task] | None = None) -> list[str | None]:
    """The encoding to read each of ``sources`` with: one setting (``--encoding``) names the encoding of a
    run's text files, so it goes to those and not to a parquet file or a DataFrame beside them. Where no source
    is a text file it goes to all, for :func:`load_data` to refuse it."""
    texts = [isinstance(source, (str, os.PathLike)) and _exists(Path(source).expanduser())
             and decoded(source, task_cls) for source in sources]
    return [encoding if text or not any(texts) else None for text in texts]


def hold_out(dataset: Dataset, fraction: float, seed: int, strata: Sequence[Any] | None = None) -> tuple[Dataset, Dataset]:
    """``(train, held out)``: ``fraction`` of ``dataset`` held out at random, rounded up as
    ``Dataset.train_test_split`` rounds; a fraction that leaves no training example is one line.

    With ``strata`` (a key per row, e.g. its class: :meth:`~tasuki.task.Task.strata`) each key is held out in
    proportion, rounded to the nearest row, and at least one row of every key stays in training: a class whose
    few rows all went to the held-out set would be one the model never sees.
    """
    total = len(dataset)
    if math.ceil(fraction * total) >= total:
        digits = len(str(total)) + 1
        bound = math.floor((total - 1) / total * 10**digits) / 10**digits  # rounded down: itself allowed
        raise SettingError(f"training argument 'eval_split': {fraction!r} holds out all {total} examples; allowed for "
                           f"{total} examples: a number >= 0 and <= {bound} (one example at least must remain for "
                           f"training), or held-out data of its own (eval_data=, --eval-data)")
    if strata is None:
        split = dataset.train_test_split(test_size=fraction, seed=seed)
        return split["train"], split["test"]
    import numpy as np

    # the rows of each key, keys in the order of their repr (any hashable key; the split is a function of the seed),
    # with numpy so that millions of rows cost seconds
    codes = np.unique(np.array([repr(key) for key in strata]), return_inverse=True)[1]
    groups = np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes))[:-1])
    rng, held = np.random.default_rng(seed), []
    for rows in groups:
        rows = rng.permutation(rows)
        held.append(rows[:min(math.floor(fraction * len(rows) + 0.5), len(rows) - 1)])
    chosen = np.concatenate(held)
    largest = max(groups, key=len)
    if not len(chosen) and len(largest) > 1:  # every key rounded to none: one row of the largest, as a plain split
        chosen = np.array([rng.choice(largest)])
    kept = np.ones(total, dtype=bool)
    kept[chosen] = False
    return dataset.select(rng.permutation(np.flatnonzero(kept))), dataset.select(np.sort(chosen))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long to be a file (a text passed as data) is a Hub name or nothing
        return False


def is_dataframe(value: Any) -> bool:
    """Whether ``value`` is a pandas DataFrame (without importing pandas: not imported, it cannot be one)."""
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
        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")  # NaN is a missing value
        raise DataError(mixed_types(rows, "DataFrame") or f"DataFrame: columns must keep one type across rows ({exc})"
                        ) from None


def _load_hub(name: str, config: str | None, split: str | None) -> Dataset:
    import datasets

    try:
        return datasets.load_dataset(name, config, split=split or "train")
    except Exception as exc:  # offline, unknown name, missing config: say which
        raise DataError(
            f"could not load {name!r} as a file or a Hub dataset ({type(exc).__name__}: {exc})"
        ) from None


def detect_language(data: Dataset, sample: int = 200, columns: Sequence[str] = ()) -> str:
    """The language of ``data``'s rows (:func:`language_of` their :func:`japanese_share_of_rows`), read in
    ``columns`` (a task's input columns) where given."""
    return language_of(japanese_share_of_rows(data, sample, columns))


def language_of(japanese_share: float) -> str:
    """``"ja"`` when at least half of the rows hold Japanese text, else ``"en"``."""
    return "ja" if japanese_share >= 0.5 else "en"


def japanese_share_of_rows(data: Dataset, sample: int = 200, columns: Sequence[str] = ()) -> float:
    """The share of ``sample`` rows spread evenly over ``data`` that hold Japanese text (the first rows alone
    would call a file sorted by language by its first language).

    A row holds Japanese text when one of its strings (or lists of strings, such as NER tokens) in ``columns``
    (a task's input columns; all of them where it declares none, as NER) is mostly kana and kanji: labels and
    tags in Latin script do not hide it, and Japanese label names or a Japanese source column beside English
    texts do not make them Japanese.
    """
    from tasuki.japanese import japanese_share

    if not len(data):
        return 0.0
    read = [c for c in columns if c in data.column_names]
    if read:
        data = data.select_columns(read)
    step = max(len(data) / sample, 1.0)
    rows = data.select(sorted({int(i * step) for i in range(min(sample, len(data)))}))
    japanese = 0
    for row in rows:
        values = [" ".join(v for v in value if isinstance(v, str)) if isinstance(value, list) else value
                  for value in row.values()]
        japanese += any(isinstance(v, str) and japanese_share(v) >= 0.5 for v in values)
    return japanese / rows.num_rows
