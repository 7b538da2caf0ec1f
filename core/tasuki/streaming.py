"""Streaming prediction over files: read, predict and write in chunks, in flat memory.

``predict_file`` reads the input (csv, tsv, jsonl, txt, parquet) a chunk of rows at a time,
predicts each chunk with ``TrainedModel.predict`` (the one prediction path) and appends one
JSON line per input row, in input order, to ``OUTPUT.partial``; the finished file is renamed
to ``OUTPUT``, so a reader never sees half an output. ``resume=True`` keeps the complete rows a
stopped run already wrote (a torn last line is cut off) and predicts from the next row on, whatever
the chunk sizes of the two runs. An existing ``OUTPUT`` that is not an earlier output of this
function (a data file, say) is never replaced without ``overwrite=True``.

Under ``torchrun`` / ``accelerate launch`` (``WORLD_SIZE`` > 1) process ``r`` predicts chunks
``r, r + W, r + 2W, ...`` into its own part file; when every process is done, the main one
merges the parts chunk by chunk into one output in input order.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tasuki.data import check_header, check_readable, csv_format, json_row
from tasuki.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

    from tasuki.api import TrainedModel

logger = logging.getLogger(__name__)
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
                for batch in _chunks(rows(), batch_rows, max_chars=BATCH_CHARS):
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


def _chunks(rows: Iterator[dict[str, Any]], size: int, max_chars: int | None = None) -> Iterator[list[dict[str, Any]]]:
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


# --- writing -------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays in predictions become plain numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _complete_lines(path: Path) -> int:
    """Lines ending in a newline; a torn last line (the run stopped mid-write) is cut off."""
    if not path.is_file():
        return 0
    count = 0
    end = 0
    with open(path, "rb") as handle:
        position = 0
        while block := handle.read(1 << 20):
            found = block.count(b"\n")
            if found:
                count += found
                end = position + block.rindex(b"\n") + 1
            position += len(block)
    if end != path.stat().st_size:
        with open(path, "r+b") as handle:
            handle.truncate(end)
    return count


def _world() -> tuple[int, int]:
    """``(rank, world size)`` from the launcher's environment (torchrun, accelerate launch)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _barrier(world: int) -> None:
    if world > 1:
        from accelerate import PartialState

        from tasuki.devices import cpu_only

        PartialState(cpu=cpu_only(False)).wait_for_everyone()


def _part_name(output: Path, rank: int, world: int, chunk_size: int) -> Path:
    # world size and chunk size are in the name: a resume with other values cannot misread a part
    return output.with_name(f"{output.name}.partial-{world}x{chunk_size}-rank{rank}")


def predict_file(
    model: TrainedModel,
    input: str | Path,
    output: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    batch_size: int = 32,
    chunk_size: int = 1000,
    resume: bool = False,
    overwrite: bool = False,
    encoding: str | None = None,
    progress: bool = True,
) -> int:
    """Predict every row of ``input`` and write one JSON line per row to ``output``, in input order.

    Each line is ``{"row": N, "prediction": ...}``, N counting data rows from 1 (as tasuki's error
    messages do). Returns the number of rows predicted by this call.

    :param columns: ``{task_column: file_column}``; default: the model's own mapping, if it saved one.
    :param chunk_size: rows read, predicted and written at a time (memory grows with this, not the file).
    :param resume: keep the rows ``OUTPUT.partial`` (or a finished ``OUTPUT``) already holds and predict only
        the rest; the chunk size may differ from the stopped run's. Under several processes the part files
        are named by world and chunk size, so a resume with other values starts over (never duplicates).
    :param overwrite: replace an existing ``OUTPUT`` that is not an earlier output of this function.
    """
    from tasuki.data import map_columns, rows_to_dataset, saved_for
    from tasuki.features import caching

    if chunk_size < 1 or batch_size < 1:
        raise DataError(f"chunk_size and batch_size must be >= 1, got {chunk_size} and {batch_size}")
    input, output = Path(input).expanduser(), Path(output).expanduser()
    if output.resolve() == input.resolve():
        raise DataError(f"{output}: the output would overwrite the input")
    _check_output_file(output, overwrite)
    output.parent.mkdir(parents=True, exist_ok=True)
    saved = model.metadata.get("columns") or {}
    columns = dict(columns or {})
    rank, world = _world()
    part = output.with_name(output.name + ".partial") if world == 1 else _part_name(output, rank, world, chunk_size)
    if resume and world == 1 and not part.is_file() and output.is_file():
        os.replace(output, part)  # a finished output (checked above: ours) holds the rows already predicted
    done_rows = _complete_lines(part) if resume else 0
    if world == 1 and done_rows:
        _check_last_row(part, done_rows)
    if world > 1:
        done_rows -= done_rows % chunk_size  # a part holds whole chunks: a torn chunk is predicted again
        if resume and part.is_file():
            with open(part, "r+b") as handle:
                _truncate_to_lines(handle, done_rows)
    if done_rows:
        logger.info("%s: resuming after %d rows already written", part, done_rows)
    task_cls = type(model.task)
    renames: dict[str, str] = {}
    source = str(input)
    predicted = 0
    bar = _progress(progress and rank == 0, done_rows * world)
    started = time.perf_counter()
    with open(part, "a" if done_rows else "w", encoding="utf-8") as out, caching(False):
        row_number = 0
        mine = 0  # rows of this process's chunks seen so far
        for number, chunk in enumerate(_chunks(iter_rows(input, task_cls, encoding), chunk_size)):
            first = row_number + 1
            row_number += len(chunk)
            if number == 0:  # the columns are checked once, with the message tasuki.data gives
                head = rows_to_dataset(chunk[:1], source)
                columns = {**saved_for(head, saved), **columns}  # the model's own mapping where it applies
                map_columns(head, task_cls, columns, source, with_targets=False)
                renames = {user: task for task, user in columns.items() if user != task}
            if number % world != rank:
                continue
            before, mine = mine, mine + len(chunk)
            if mine <= done_rows:
                continue
            # rows of this chunk a stopped run already wrote (its chunks may have been of another size)
            skip = max(done_rows - before, 0)
            first += skip
            rows = [{renames.get(k, k): v for k, v in row.items()} for row in chunk[skip:]]
            try:
                predictions = model.predict(rows, batch_size=batch_size)
            except DataError as exc:
                raise _in_file(exc, source, first, row_number) from None
            out.write("".join(json.dumps({"row": first + i, "prediction": p}, ensure_ascii=False,
                                         default=_json_default) + "\n" for i, p in enumerate(predictions)))
            out.flush()
            os.fsync(out.fileno())  # what is on disk is what --resume keeps
            predicted += len(rows)
            bar.update(len(rows) * world)
    if row_number == 0:
        raise DataError(f"{input}: no rows to predict")
    if done_rows > mine:
        raise DataError(f"{part} holds {done_rows} rows but {input} has {row_number}: it is the output of another "
                        f"input; remove it or run without --resume")
    bar.close()
    if rank == 0 and progress:
        elapsed = time.perf_counter() - started
        logger.info("predicted %d rows in %.1fs (%.0f rows/s) -> %s", predicted * world, elapsed,
                    predicted * world / max(elapsed, 1e-9), output)
    _barrier(world)
    if rank == 0:
        if world > 1:
            _merge([_part_name(output, r, world, chunk_size) for r in range(world)], output, chunk_size)
        else:
            os.replace(part, output)
    _barrier(world)
    return predicted


def _check_output_file(output: Path, overwrite: bool) -> None:
    """Refuse to replace an existing ``output`` that is not an earlier prediction output, unless ``overwrite``."""
    if output.is_dir():
        raise DataError(f"--output {output} is a directory; give a file (e.g. {output / 'predictions.jsonl'})")
    if overwrite or not output.exists() or _is_prediction_output(output):
        return
    raise DataError(f"--output {output} exists and is not the output of tasuki predict; refusing to replace it: "
                    f"choose another --output, or pass --overwrite (Python: overwrite=True) to replace it")


def _is_prediction_output(path: Path) -> bool:
    """Whether ``path`` is empty or starts as ``predict_file`` writes: ``{"row": 1, "prediction": ...}``."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 26)  # a line holds one prediction: a long vector at most
        if not first:
            return True
        row = json.loads(first)
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON
        return False
    return isinstance(row, dict) and set(row) == {"row", "prediction"} and row["row"] == 1


def _check_last_row(part: Path, lines: int) -> None:
    """The last of the ``lines`` complete lines of ``part`` must be row ``lines``: else it is not this input's."""
    with open(part, "rb") as handle:
        handle.seek(max(part.stat().st_size - (1 << 26), 0))
        last = handle.read().splitlines()[-1]
    try:
        row = json.loads(last).get("row")
    except (ValueError, AttributeError):
        row = None
    if row != lines:
        raise DataError(f"{part}: line {lines} is row {row}, not row {lines}: it is the partial output of another "
                        f"input; remove it or run without --resume")


def _in_file(exc: DataError, source: str, first: int, last: int) -> DataError:
    """An error about row N of a chunk, told as the row of the file (``model.predict`` counts from 1)."""
    found = re.match(r"input: row (\d+)(.*)", str(exc), re.S)
    if found:
        return DataError(f"{source}: row {first + int(found[1]) - 1}{found[2]}")
    return DataError(f"{source}, rows {first}-{last}: {exc}")


def _truncate_to_lines(handle: IO[bytes], lines: int) -> None:
    """Cut a part file after its first ``lines`` lines."""
    seen = 0
    position = 0
    while seen < lines and (block := handle.read(1 << 20)):
        for i, byte in enumerate(block):
            if byte == 0x0A:
                seen += 1
                if seen == lines:
                    position += i + 1
                    break
        else:
            position += len(block)
    handle.truncate(position if lines else 0)


def _merge(parts: list[Path], output: Path, chunk_size: int) -> None:
    """Interleave the processes' parts chunk by chunk (chunk k is in part k % W) into ``output``."""
    partial = output.with_name(output.name + ".partial")
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(p, encoding="utf-8")) for p in parts]
        with open(partial, "w", encoding="utf-8") as out:
            turn = 0
            while True:
                lines = [line for _, line in zip(range(chunk_size), handles[turn % len(handles)])]
                if not lines:
                    break
                out.writelines(lines)
                turn += 1
            out.flush()
            os.fsync(out.fileno())
    os.replace(partial, output)
    for p in parts:
        p.unlink()


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(show: bool, initial: int) -> Any:
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(desc="predicting", unit=" rows", initial=initial, file=sys.stderr, dynamic_ncols=True)

