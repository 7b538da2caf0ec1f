"""A data file's rows one at a time, and rows cached once in a memory-mapped Arrow file.

:func:`iter_rows` streams csv, tsv, jsonl, txt and parquet in flat memory (other formats are read
whole by :func:`tasuki.data.read_file`); :func:`read_dataset` writes a file's rows into the Arrow data
cache (:func:`cached_rows`) so training on a large file never holds it in memory. Prediction over files
(ranks, part files, resume) is :mod:`tasuki.prediction.files`.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tasuki.data import check_header, check_readable, csv_format, json_row
from tasuki.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset


STREAMED = (".csv", ".tsv", ".jsonl", ".txt", ".parquet")
BATCH_CHARS = 8_000_000
"""Characters of text per Arrow batch written to the data cache (10,000 articles would hold ~100 MB)."""
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a whole book in one cell is a text, not an error


# --- reading -------------------------------------------------------------------------------------


def _decode_error(path: Path, encoding: str | None) -> DataError:
    """The error for a file that does not decode, naming the first bad byte and its line.

    Text files are decoded in blocks, so the line being read is not where the bad byte is:
    find it again here (only on this error path) with an incremental decoder.
    """
    decoder = codecs.getincrementaldecoder(encoding or "utf-8-sig")()
    line, bad = 1, 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 16):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = max(exc.start - (len(exc.object) - len(block)), 0)  # the decoder may hold earlier bytes
                line += block[:start].count(b"\n")
                bad = block[start] if start < len(block) else exc.object[exc.start]
                break
            line += block.count(b"\n")
    return DataError(f"{path}: line {line}: cannot decode byte 0x{bad:02x} as {encoding or 'UTF-8'}. Pass the "
                     f"file's encoding, e.g. --encoding latin-1 (Python: encoding='latin-1') or cp932 for "
                     f"Shift-JIS Japanese")


def _lines(handle: IO[str], path: Path, encoding: str | None) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` without the line end; decoding errors name the line."""
    number = 0
    while True:
        try:
            line = handle.readline()
        except UnicodeDecodeError:
            raise _decode_error(path, encoding) from None
        if not line:
            return
        number += 1
        yield number, line.rstrip("\r\n").lstrip("\ufeff") if number == 1 else line.rstrip("\r\n")


def _csv_rows(handle: IO[str], path: Path, suffix: str, encoding: str | None) -> Iterator[dict[str, Any]]:
    reader = csv.reader(handle, **csv_format(suffix))
    try:
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: empty file (no header row)")
        names = [name.strip().lstrip("\ufeff") for name in header]
        check_header(path, names)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # a whitespace-only line, as tasuki.data skips it
            if len(cells) > len(names):
                raise DataError(f"{path}: line {reader.line_num}: more fields than the header has")
            # a short row gets None for its missing fields, as csv.DictReader gives them
            yield {name: cells[i] if i < len(cells) else None for i, name in enumerate(names)}
    except UnicodeDecodeError:
        raise _decode_error(path, encoding) from None


def _jsonl_rows(handle: IO[str], path: Path, encoding: str | None) -> Iterator[dict[str, Any]]:
    for number, line in _lines(handle, path, encoding):
        if line.strip():
            yield json_row(line, path, number)  # as tasuki.data reads a whole file


def _text_rows(handle: IO[str], path: Path, encoding: str | None) -> Iterator[dict[str, Any]]:
    for _, line in _lines(handle, path, encoding):
        if line.strip():
            yield {"text": line.strip()}


def iter_rows(path: str | Path, task_cls: Any = None, encoding: str | None = None) -> Iterator[dict[str, Any]]:
    """The rows of ``path`` one at a time, decoded as :mod:`tasuki.data` decodes whole files.

    csv, tsv, jsonl, txt and parquet stream; other formats (json, a task's own, e.g. CoNLL)
    are read whole by :func:`tasuki.data.read_file` and then handed out row by row.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    check_readable(path)
    suffix = path.suffix.lower()
    own = task_cls.readers() if task_cls is not None else {}
    if suffix not in STREAMED or suffix in own:
        from tasuki.data import read_file

        yield from read_file(path, task_cls, encoding)
        return
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=1000):
            yield from batch.to_pylist()
        return
    try:
        codecs.lookup(encoding or "utf-8-sig")
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}") from None
    with open(path, encoding=encoding or "utf-8-sig", newline="" if suffix in (".csv", ".tsv") else None) as handle:
        if suffix in (".csv", ".tsv"):
            yield from _csv_rows(handle, path, suffix, encoding)
        elif suffix == ".jsonl":
            yield from _jsonl_rows(handle, path, encoding)
        else:
            yield from _text_rows(handle, path, encoding)


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


def cached_rows(name: str, key: Any, rows: Callable[[], Iterator[dict[str, Any]]], source: str,
                batch_rows: int = 10_000, *, empty: str = "no examples in file") -> Dataset:
    """Rows written once into an Arrow file under ``$TASUKI_CACHE/data`` and memory-mapped.

    ``key`` (JSON) names the file with the tasuki version: while it is unchanged, ``rows`` is not
    called again. Memory holds ``batch_rows`` rows at a time; the file appears complete or not at all.
    No rows at all is a :class:`DataError`: ``f"{source}: {empty}"``.
    """
    import hashlib

    import pyarrow as pa
    from datasets import Dataset
    from datasets.arrow_writer import ArrowWriter

    import tasuki
    from tasuki.features import cache_dir

    digest = hashlib.sha256(json.dumps([key, tasuki.__version__], default=str).encode()).hexdigest()[:32]
    target = cache_dir().parent / "data" / f"{name}-{digest}.arrow"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        written = 0
        try:
            with ArrowWriter(path=str(tmp)) as writer:
                names: list[str] = []
                for batch in chunks(rows(), batch_rows, max_chars=BATCH_CHARS):
                    seen = list(dict.fromkeys(name for row in batch for name in row))
                    if not names:
                        names = seen  # the first batch's columns are the file's columns
                    elif extra := [name for name in seen if name not in names]:
                        raise DataError(f"{source}: rows {written + 1}-{written + len(batch)} have column(s) "
                                        f"{extra} that the first {written} rows lack; give every row the same columns")
                    columns = {name: [row.get(name) for row in batch] for name in names}
                    try:
                        writer.write_batch(columns)
                    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
                        raise DataError(f"{source}: rows {written + 1}-{written + len(batch)}: columns must keep "
                                        f"one type across rows ({exc})") from None
                    written += len(batch)
                if not written:  # before finalize, which cannot write a schema without one row
                    raise DataError(f"{source}: {empty}")
                writer.finalize()
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return Dataset.from_file(str(target))


def chunks(rows: Iterator[dict[str, Any]], size: int, max_chars: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """Lists of ``size`` rows, or fewer once their strings hold ``max_chars`` characters (long documents)."""
    chunk: list[dict[str, Any]] = []
    chars = 0
    for row in rows:
        chunk.append(row)
        if max_chars is not None:
            chars += sum(len(v) for v in row.values() if isinstance(v, str))
        if len(chunk) == size or (max_chars is not None and chars >= max_chars):
            yield chunk
            chunk, chars = [], 0
    if chunk:
        yield chunk
