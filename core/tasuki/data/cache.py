"""The Arrow data cache: rows written once into a memory-mapped Arrow file under ``$TASUKI_CACHE/data``."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.cache import cache_root
from tasuki.data.tables import mixed_types
from tasuki.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

BATCH_CHARS = 8_000_000
"""Characters of text per Arrow batch written to the data cache (10,000 articles would hold ~100 MB)."""


def cached_rows(name: str, key: Any, rows: Callable[[], Iterator[dict[str, Any]]], source: str,
                batch_rows: int = 10_000, *, empty: str = "no examples in file") -> Dataset:
    """Rows written once into an Arrow file under ``$TASUKI_CACHE/data`` and memory-mapped.

    ``key`` (JSON) names the file with the tasuki version and the readers' source (:func:`reader_code`):
    while they are unchanged, ``rows`` is not called again. Memory holds ``batch_rows`` rows at a time; the
    file appears complete or not at all.
    No rows at all is a :class:`DataError`: ``f"{source}: {empty}"``.
    """
    import pyarrow as pa
    from datasets import Dataset
    from datasets.arrow_writer import ArrowWriter

    import tasuki

    digest = hashlib.sha256(json.dumps([key, tasuki.__version__, reader_code()], default=str).encode()).hexdigest()[:32]
    target = cache_root() / "data" / f"{name}-{digest}.arrow"
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
                        # the batch's rows alone (the kinds of earlier batches are in the file's schema)
                        raise DataError(mixed_types(batch, source, written + 1) or
                                        f"{source}: rows {written + 1}-{written + len(batch)}: columns must keep "
                                        f"one type across rows ({exc})") from None
                    # a column of mixed kinds (1 and "neg") is JSON text here, where a whole read refuses it
                    as_json = any(getattr(field.type, "extension_name", None) == "arrow.json" for field in writer.schema)
                    if as_json and (mixed := mixed_types(batch, source, written + 1)):
                        raise DataError(mixed)
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


@functools.cache
def reader_code() -> str:
    """A hash of the file readers' source (:mod:`~tasuki.data.formats` and the modules it reads with,
    :mod:`~tasuki.data.spreadsheets`, this module's checks): a reader fixed in place (an editable install after
    a pull, tasuki's version unchanged) is a new data cache, never the rows the old reader got from the file."""
    from tasuki.data import formats, headers, jsonfiles, spreadsheets

    digest = hashlib.sha256()
    for module in (formats, headers, jsonfiles, spreadsheets, sys.modules[__name__]):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]
