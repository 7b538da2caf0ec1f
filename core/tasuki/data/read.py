"""Reading one local file: whole into a Dataset (:func:`read_file`), row by row (:func:`iter_rows`), or
streamed into the Arrow data cache (:func:`read_dataset`, what a large file gets: flat memory).

A task's own formats (its ``readers()``, e.g. CoNLL) take precedence over the generic ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.data.cache import cached_rows
from tasuki.data.folders import folder_rows
from tasuki.data.formats import GENERIC_READERS, STREAMED, check_readable, read_text, stream_rows
from tasuki.data.spreadsheets import WORKBOOKS, workbook_rows
from tasuki.data.tables import rows_to_dataset
from tasuki.errors import DataError
from tasuki.settings import SettingError

if TYPE_CHECKING:
    from datasets import Dataset

    from tasuki.task import Task

STREAM_ABOVE = 64 * 2**20
"""Files larger than this (64 MiB) are read in a stream (:func:`read_dataset`)."""
logger = logging.getLogger(__name__)


SELF_DESCRIBING = (".parquet", *WORKBOOKS)
"""Binary formats that record their own text encoding: an ``encoding`` given for one is refused, not ignored."""

SPREADSHEETS = frozenset({".xls", ".ods", ".numbers"})
"""Suffixes of spreadsheets not read (openpyxl reads .xlsx and .xlsm only); the refusal says how to export."""


def read_file(path: str | Path, task_cls: type[Task] | None = None, encoding: str | None = None, *,
              stream: bool = False) -> Dataset:
    """Read one local file into a Dataset, using the task's own reader for its formats (a folder of text
    files, in label folders or not: :mod:`tasuki.data.folders`).

    csv, tsv, jsonl, txt and Excel files above 64 MiB, or any of them with ``stream=True``, stream row by
    row into a cached Arrow file (flat memory) instead of being read whole.
    """
    from datasets import Dataset

    path = Path(path)
    if path.is_dir():  # a folder of text files, read whole
        return rows_to_dataset(list(folder_rows(path, encoding)), str(path))
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    check_readable(path)
    suffix = path.suffix.lower()
    readers = {**GENERIC_READERS, **(task_cls.readers() if task_cls else {})}
    check_encoding(path, encoding, task_cls)
    if suffix == ".parquet" and suffix not in readers:
        return Dataset.from_parquet(str(path))
    if suffix not in readers and suffix not in WORKBOOKS:
        known = ", ".join(sorted({*readers, ".parquet", *WORKBOOKS}))
        sheet = "; a spreadsheet: save it as .xlsx or as CSV UTF-8" if suffix in SPREADSHEETS else ""
        raise DataError(f"{path}: unknown file type {suffix!r}; tasuki reads {known}{sheet}")
    workbook = suffix in WORKBOOKS and suffix not in readers
    streamable = workbook or (suffix in (".csv", ".tsv", ".jsonl", ".txt") and readers[suffix] is GENERIC_READERS[suffix])
    if streamable and (stream or path.stat().st_size > STREAM_ABOVE):
        # a large file streams row by row into a cached Arrow file: flat memory, read once per version
        logger.info("%s: %.0f MB, read in a stream into the data cache", path, path.stat().st_size / 1e6)
        return read_dataset(path, task_cls, encoding)
    rows = list(workbook_rows(path)) if workbook else readers[suffix](path, read_text(path, encoding))
    if not rows:
        raise DataError(f"{path}: no examples in file")
    return rows_to_dataset(rows, str(path))


def decoded(path: str | Path, task_cls: Any = None) -> bool:
    """Whether ``path`` is read as text, so that an ``encoding`` applies to it (not parquet, not a workbook,
    unless the task reads that suffix itself)."""
    suffix = Path(path).suffix.lower()
    return suffix not in SELF_DESCRIBING or (task_cls is not None and suffix in task_cls.readers())


def check_encoding(path: str | Path, encoding: str | None, task_cls: Any = None) -> None:
    """Refuse an ``encoding`` for a file that is not read as text: ignored, it would be a value dropped."""
    if encoding is not None and not decoded(path, task_cls):
        raise encoding_refused(encoding, f"{path} is {Path(path).suffix.lower()[1:]}, which records its own encoding")


def encoding_refused(encoding: str, why: str) -> SettingError:
    """The one-line refusal of an ``encoding`` given for data it cannot apply to (``why``: what the data is)."""
    return SettingError(f"'encoding' ({encoding!r}) is for text files (csv, tsv, jsonl, json, txt); {why}: leave "
                        f"encoding out (CLI: --encoding)")


def iter_rows(path: str | Path, task_cls: Any = None, encoding: str | None = None) -> Iterator[dict[str, Any]]:
    """The rows of ``path`` one at a time, decoded as :func:`read_file` decodes whole files.

    csv, tsv, jsonl, txt and parquet stream (:func:`tasuki.data.formats.stream_rows`), Excel workbooks too
    (:func:`tasuki.data.spreadsheets.workbook_rows`); other formats
    (json, a task's own, e.g. CoNLL) are read whole by :func:`read_file` and then handed out row by row.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        yield from folder_rows(path, encoding)
        return
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    check_readable(path)
    suffix = path.suffix.lower()
    own = task_cls.readers() if task_cls is not None else {}
    check_encoding(path, encoding, task_cls)
    if suffix in WORKBOOKS and suffix not in own:
        yield from workbook_rows(path)
        return
    if suffix not in STREAMED or suffix in own:
        yield from read_file(path, task_cls, encoding)
        return
    yield from stream_rows(path, suffix, encoding)


def read_dataset(path: str | Path, task_cls: Any = None, encoding: str | None = None,
                 batch_rows: int = 10_000) -> Dataset:
    """A file as a ``datasets.Dataset`` backed by an Arrow file, read in flat memory and cached.

    Rows stream from :func:`iter_rows` into an Arrow file ``batch_rows`` at a time (memory
    holds one batch, not the file), under ``$TASUKI_CACHE/data``, named by the file's path,
    size, modification time and encoding: a second run on an unchanged file reads nothing.
    The dataset's fingerprint follows the file, so the feature cache of
    :func:`tasuki.features.encode` finds its features again.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    stat = path.stat()
    key = [str(path), stat.st_size, stat.st_mtime_ns, encoding, getattr(task_cls, "name", None)]
    return cached_rows(path.stem, key, lambda: iter_rows(path, task_cls, encoding), str(path), batch_rows)
