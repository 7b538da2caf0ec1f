"""Streaming prediction over files: read, predict and write in chunks, in flat memory.

``predict_file`` reads the input (csv, tsv, jsonl, txt, parquet, xlsx) a chunk of rows at a time,
predicts each chunk with ``TrainedModel.predict`` (the one prediction path) and appends one
JSON line per input row, in input order, to ``OUTPUT.partial``; the finished file is renamed
to ``OUTPUT``, so a reader never sees half an output. An ``OUTPUT`` named ``.csv``, ``.tsv`` or ``.xlsx``
is a table written from those lines when they are complete (:mod:`tasuki.prediction.tables`).
``resume=True`` keeps the complete rows a stopped run already wrote (a torn last line is cut off) and
predicts from the next row on, whatever the chunk sizes of the two runs. An existing ``OUTPUT`` that is
not an earlier output of this function (a data file, say) is never replaced without ``overwrite=True``.

Under ``torchrun`` / ``accelerate launch`` (``WORLD_SIZE`` > 1) process ``r`` predicts chunks
``r, r + W, r + 2W, ...`` into its own part file; when every process is done, the main one
merges the parts chunk by chunk into one output in input order.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tasuki.data.cache import chunks
from tasuki.data.read import SPREADSHEETS, iter_rows
from tasuki.devices import cpu_only
from tasuki.devices import world as launcher_world
from tasuki.errors import DataError
from tasuki.prediction import tables

if TYPE_CHECKING:
    from tasuki.api import TrainedModel

logger = logging.getLogger(__name__)


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


def _barrier(world: int) -> None:
    if world > 1:
        from accelerate import PartialState

        PartialState(cpu=cpu_only(False)).wait_for_everyone()


@contextlib.contextmanager
def _removed_if_empty(part: Path) -> Iterator[None]:
    """A part file this run creates is removed when the run fails before writing a row (a refused column, an
    empty input): a refusal leaves nothing behind. Rows written stay, for ``--resume``."""
    fresh = not part.exists()
    try:
        yield
    except BaseException:
        if fresh and part.is_file() and part.stat().st_size == 0:
            part.unlink()
        raise


def _partial(output: Path) -> Path:
    """``OUTPUT.partial``: the JSON lines of a run in progress (one process's, or the processes' merged)."""
    return output.with_name(output.name + ".partial")


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

    Each line is ``{"row": N, "prediction": ...}``, N counting data rows from 1 (as tasuki's error messages
    do); a ``.csv``/``.tsv`` ``output`` is a table of ``row``, the input's columns and the prediction's
    fields (:mod:`tasuki.prediction.tables`). Returns the number of rows predicted by this call.

    :param columns: ``{task_column: file_column}``; default: the model's own mapping, if it saved one.
    :param chunk_size: rows read, predicted and written at a time (memory grows with this, not the file).
    :param resume: keep the rows ``OUTPUT.partial`` (or a finished ``OUTPUT``) already holds and predict only
        the rest; the chunk size may differ from the stopped run's. Under several processes the part files
        are named by world and chunk size, so a resume with other values starts over (never duplicates).
    :param overwrite: replace an existing ``OUTPUT`` that is not an earlier output of this function.
    """
    from tasuki.features import caching

    if chunk_size < 1 or batch_size < 1:
        raise DataError(f"chunk_size and batch_size must be >= 1, got {chunk_size} and {batch_size}")
    input, output = Path(input).expanduser(), Path(output).expanduser()
    _check_output_file(output, input, overwrite)
    rank, world = launcher_world()
    task_cls = type(model.task)
    read_inputs = functools.partial(iter_rows, input, task_cls, encoding)
    if tables.is_table(output) and _table_finished(output, resume, world, read_inputs):
        return 0
    part, done_rows = _resume_point(output, rank, world, chunk_size, resume)
    renames: dict[str, str] = {}
    source = str(input)
    predicted, bar = 0, _progress(progress and rank == 0, done_rows * world)
    started = time.perf_counter()
    with _removed_if_empty(part), open(part, "a" if done_rows else "w", encoding="utf-8") as out, caching(False):
        row_number = mine = 0  # rows read, and rows of this process's chunks among them
        for number, chunk in enumerate(chunks(read_inputs(), chunk_size)):
            first = row_number + 1
            row_number += len(chunk)
            if number == 0:  # the columns are checked once, with the message tasuki.data gives
                renames = _renames(chunk[0], task_cls, model.metadata.get("columns") or {}, dict(columns or {}), source)
            if number % world != rank:
                continue
            before, mine = mine, mine + len(chunk)
            if before < done_rows <= mine:  # the last row already written: this model must predict it the same
                _check_same_model(model, {renames.get(k, k): v for k, v in chunk[done_rows - before - 1].items()},
                                  part, first + done_rows - before - 1)
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
            _write(out, first, predictions)
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
    _finish(part, output, rank, world, chunk_size, read_inputs)
    return predicted


def _renames(row: dict[str, Any], task_cls: Any, saved: Mapping[str, str], columns: Mapping[str, str],
             source: str) -> dict[str, str]:
    """``{file column: task column}`` for the rows of ``source``, checked on its first ``row`` with the message
    :func:`tasuki.data.map_columns` gives; the model's saved mapping applies where its columns exist."""
    from tasuki.data import check_mapping, map_columns, rows_to_dataset, saved_for

    check_mapping(task_cls, columns)
    head = rows_to_dataset([row], source)
    columns = {**saved_for(head, saved), **columns}
    map_columns(head, task_cls, columns, source, with_targets=False)
    return {user: task for task, user in columns.items() if user != task}


def _write(out: IO[str], first: int, predictions: list[Any]) -> None:
    """One JSON line per prediction, numbered from row ``first``, synced: what is on disk is what --resume keeps."""
    out.write("".join(json.dumps({"row": first + i, "prediction": p}, ensure_ascii=False,
                                 default=_json_default) + "\n" for i, p in enumerate(predictions)))
    out.flush()
    os.fsync(out.fileno())


def _resume_point(output: Path, rank: int, world: int, chunk_size: int, resume: bool) -> tuple[Path, int]:
    """This process's part file and the rows of it a stopped run already wrote (0 without ``resume``).

    One process: a finished ``OUTPUT`` becomes the part again, and its last row is checked. Several:
    a part holds whole chunks, so a torn chunk is cut off and predicted again."""
    part = _partial(output) if world == 1 else _part_name(output, rank, world, chunk_size)
    if resume and world == 1 and not part.is_file() and output.is_file() and not tables.is_table(output):
        os.replace(output, part)  # a finished output (checked by the caller: ours) holds the rows already predicted
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
    return part, done_rows


def _finish(part: Path, output: Path, rank: int, world: int, chunk_size: int, read_inputs: Any) -> None:
    """Once every process is done: the main one renames its part to ``output``, or merges the parts into it
    (a table: writes it from them, and removes them)."""
    _barrier(world)
    if rank == 0:
        if world > 1:
            part = _partial(output)
            _merge([_part_name(output, r, world, chunk_size) for r in range(world)], part, chunk_size)
        if tables.is_table(output):
            tables.write_table(part, read_inputs, output)
            part.unlink()
        else:
            os.replace(part, output)
    _barrier(world)


def _table_finished(output: Path, resume: bool, world: int, read_inputs: Any) -> bool:
    """Before anything is written, refuse input columns a table cannot take; then whether ``resume`` finds the
    table already written (no partial left) with every input row: nothing to do."""
    tables.check_input_columns(next(read_inputs(), {}), output)
    if not resume or world > 1 or not output.is_file() or _partial(output).exists():
        return False
    written, rows = tables.count_rows(output), sum(1 for _ in read_inputs())
    if written != rows:
        raise DataError(f"{output} holds {written} rows but the input has {rows}: it is the output of another "
                        f"input; remove it or run without --resume")
    logger.info("%s: already complete (%d rows); nothing to resume", output, written)
    return True


OTHER_FORMATS = frozenset({".txt", ".json", ".parquet", ".npy", ".xlsm", *SPREADSHEETS})
"""Suffixes of formats that an output is neither (JSON lines, or a ``.csv``/``.tsv``/``.xlsx`` table): refused
rather than written in the wrong format."""


def _check_output_file(output: Path, input: Path, overwrite: bool) -> None:
    """Refuse to replace the input, or an existing ``output`` that is not an earlier prediction output (unless
    ``overwrite``); make its directory."""
    if output.resolve() == input.resolve():
        raise DataError(f"{output}: the output would overwrite the input")
    if output.is_dir():
        raise DataError(f"--output {output} is a directory; give a file (e.g. {output / 'predictions.jsonl'})")
    if output.suffix.lower() in OTHER_FORMATS:  # JSON lines in a .json would be read as garbage
        raise DataError(f"--output {output}: predictions are written as JSON lines ({{\"row\": N, \"prediction\": "
                        f"...}}) or as a .csv/.tsv/.xlsx table, not {output.suffix.lower()[1:].upper()}; name it "
                        f"{output.with_suffix('.jsonl').name} or {output.with_suffix('.csv').name}")
    ours = tables.is_table_output if tables.is_table(output) else _is_prediction_output
    if overwrite or not output.exists() or ours(output):
        output.parent.mkdir(parents=True, exist_ok=True)
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


def _last_line(part: Path) -> Any:
    """The last complete line of ``part``, parsed (None when it is not JSON); read from the end, a block at a
    time, so that a gigabyte of earlier rows is not read to find it."""
    block, size = 1 << 16, part.stat().st_size
    with open(part, "rb") as handle:
        tail = b""
        while True:  # the file ends with a newline (complete lines only): look for the one before it
            start = max(size - len(tail) - block, 0)
            handle.seek(start)
            tail = handle.read(size - len(tail) - start) + tail
            if start == 0 or tail.rfind(b"\n", 0, len(tail) - 1) >= 0:
                break
    try:
        return json.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    except ValueError:
        return None


def _check_last_row(part: Path, lines: int) -> None:
    """The last of the ``lines`` complete lines of ``part`` must be row ``lines``: else it is not this input's."""
    last = _last_line(part)
    row = last.get("row") if isinstance(last, dict) else None
    if row != lines:
        raise DataError(f"{part}: line {lines} is row {row}, not row {lines}: it is the partial output of another "
                        f"input; remove it or run without --resume")


def _check_same_model(model: Any, row: dict[str, Any], part: Path, number: int) -> None:
    """Predict row ``number`` again: a resumed output whose rows came from another model (or other options)
    would mix two models' answers silently."""
    written = _last_line(part)
    again = json.loads(json.dumps(model.predict([row])[0], default=_json_default))  # as it would be written
    if not isinstance(written, dict) or not _close(written.get("prediction"), again):
        raise DataError(f"{part}: row {number} was predicted otherwise than this model predicts it now: the rows "
                        f"already written come from another model (or other options); remove it or run without "
                        f"--resume")


def _close(a: Any, b: Any) -> bool:
    """Equal, numbers to a batch's float noise (another batch pads otherwise)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_close, a, b))
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-4)
    return a == b


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
    partial = output.with_name(output.name + ".merging")
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

