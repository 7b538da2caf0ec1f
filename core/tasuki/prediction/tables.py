"""Predictions as a table: the ``.csv``, ``.tsv`` or ``.xlsx`` output of :func:`~tasuki.prediction.files.predict_file`.

The streaming run always writes JSON lines first (``OUTPUT.partial``: resumable, merged across processes).
When they are complete, :func:`write_table` turns them into the table beside the input's own rows, read
again in order: ``row`` (counting data rows from 1), the input's columns as they are in the file, then the
prediction's fields under ``prediction.``. A field holding an object of plain values becomes one column per
key (a classifier's ``prediction.scores.positive``); a list (multi-label labels, NER entities, a vector)
is one cell of JSON text. Two passes over the JSON lines: the first collects the columns, so that every row
has the same ones even when predictions differ in their keys (``top_k`` keeps other labels per row).

Worked example: input ``text`` = ``great``, prediction ``{"label": "pos", "score": 0.9, "scores": {"pos": 0.9,
"neg": 0.1}}`` gives the header ``row,text,prediction.label,prediction.score,prediction.scores.pos,
prediction.scores.neg`` and the line ``1,great,pos,0.9,0.9,0.1``.

UTF-8 without a byte-order mark (what pandas and most tools write and read); ``\\n`` line ends. An Excel
workbook (``.xlsx``) holds the same rows on one sheet, numbers as numbers and every text as text (a text
starting with ``=`` stays text: no formula is ever written); what a sheet cannot hold (more than 1,048,575
rows, a text over 32,767 characters, a control character) is refused naming the row, never cut.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tasuki.errors import DataError

DELIMITERS = {".csv": ",", ".tsv": "\t"}
"""The text table formats an output can be, by suffix."""
WORKBOOK = ".xlsx"
"""The suffix of a table written as an Excel workbook."""
SHEET_ROWS, CELL_CHARACTERS = 1_048_576, 32_767
"""What one Excel sheet holds: rows (the header is one), characters in a cell."""
PREFIX = "prediction."


def is_table(path: Path) -> bool:
    """Whether ``path`` names a table output (``.csv``, ``.tsv`` or ``.xlsx``) rather than JSON lines."""
    return path.suffix.lower() in DELIMITERS or path.suffix.lower() == WORKBOOK


def check_input_columns(columns: Iterable[str], output: Path) -> None:
    """Refuse input columns whose names the table's own columns take (``row``, ``prediction...``)."""
    for column in columns:
        if column == "row" or column == "prediction" or column.startswith(PREFIX):
            raise DataError(f"--output {output}: the input column {column!r} has the name of a column the table "
                            f"adds (row, prediction.*); rename it in the input, or write JSON lines "
                            f"({output.with_suffix('.jsonl').name})")


def is_table_output(path: Path) -> bool:
    """Whether ``path`` is empty or starts as :func:`write_table` writes it: ``row`` first, prediction columns
    after, row 1 first (a user's table with a ``row`` column is not ours: it is never replaced silently)."""
    try:
        head = [[str(cell) for cell in line] for _, line in zip(range(2), _read_lines(path))]
    except (OSError, UnicodeDecodeError, csv.Error, DataError):
        return False
    if not head:
        return True
    predicted = any(c == "prediction" or c.startswith(PREFIX) for c in head[0])
    return head[0][:1] == ["row"] and predicted and (len(head) == 1 or head[1][:1] == ["1"])


def count_rows(path: Path) -> int:
    """Data rows of a finished table (its header left out)."""
    return max(sum(1 for _ in _read_lines(path)) - 1, 0)


def _read_lines(path: Path) -> Iterator[list[Any]]:
    """A table output's lines, header first, as it was written (a workbook's cells with their types)."""
    if path.suffix.lower() == WORKBOOK:
        import openpyxl

        try:
            book = openpyxl.load_workbook(path, read_only=True)
        except Exception as exc:  # not a workbook (openpyxl raises several kinds): not ours
            raise DataError(f"{path}: not a workbook ({type(exc).__name__})") from None
        try:
            for line in book.worksheets[0].iter_rows(values_only=True):
                yield ["" if cell is None else cell for cell in line]
        finally:
            book.close()
        return
    with open(path, encoding="utf-8", newline="") as handle:
        yield from csv.reader(handle, delimiter=_delimiter(path))


def write_table(lines: Path, read_inputs: Callable[[], Iterator[dict[str, Any]]], output: Path) -> None:
    """Write ``output`` from the JSON lines ``lines`` (``{"row", "prediction"}``) and the input rows they
    predict (``read_inputs()``, in the same order); written beside ``output`` and renamed into place.

    The input is read twice (its columns first: rows of JSON lines may differ in their keys, and none is
    left out), the predictions twice (their columns first).
    """
    input_columns: dict[str, None] = {}  # ordered sets: columns in the order they first appear
    for row in read_inputs():
        input_columns.update(dict.fromkeys(row))
    columns: dict[str, None] = {}
    with open(lines, encoding="utf-8") as handle:
        for line in handle:
            columns.update(dict.fromkeys(_cells(json.loads(line)["prediction"])))
    staging = output.with_name(output.name + ".table-partial")
    with _table_writer(staging, output) as write, open(lines, encoding="utf-8") as handle:
        write(["row", *input_columns, *columns])
        try:
            for line, row in zip(handle, read_inputs(), strict=True):
                write(_row(json.loads(line), row, input_columns, columns))
        except ValueError as exc:  # zip's: the input no longer has the rows that were predicted
            if isinstance(exc, json.JSONDecodeError | DataError):
                raise
            raise DataError(f"{output}: the input changed while it was predicted (its rows no longer match the "
                            f"{lines.name} predictions); predict it again") from None
    os.replace(staging, output)


def write_rows(output: Path, columns: list[str], rows: Iterable[dict[str, Any]], sheet: str = "rows") -> None:
    """Write ``rows`` under ``columns`` as the table ``output`` names (``.csv``, ``.tsv`` or ``.xlsx``: a sheet
    named ``sheet``), each cell as :func:`write_table` writes it (a list or object as JSON text, null empty, a
    text starting with ``=`` a text); beside ``output`` and renamed into place, so no reader sees half a table."""
    if not is_table(output):
        raise ValueError(f"{output}: not a table (.csv, .tsv or .xlsx)")
    staging = output.with_name(output.name + ".table-partial")
    with _table_writer(staging, output, sheet) as write:
        write(list(columns))
        for row in rows:
            write([_cell(row.get(column)) for column in columns])
    os.replace(staging, output)


@contextlib.contextmanager
def _table_writer(staging: Path, output: Path, sheet: str = "predictions") -> Iterator[Callable[[list[Any]], None]]:
    """``write(cells)`` for each line of ``output``'s format, into ``staging`` (synced to disk on success,
    removed on an error); a workbook's one sheet is named ``sheet``."""
    try:
        if output.suffix.lower() == WORKBOOK:
            with _workbook_writer(staging, output, sheet) as write:
                yield write
        else:
            with open(staging, "w", encoding="utf-8", newline="") as out:
                yield csv.writer(out, delimiter=_delimiter(output), lineterminator="\n").writerow
                out.flush()
                os.fsync(out.fileno())
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _workbook_writer(staging: Path, output: Path, title: str) -> Iterator[Callable[[list[Any]], None]]:
    """``write(cells)`` appending to one sheet of a write-only workbook, saved into ``staging`` at the end."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import IllegalCharacterError

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title)
    header: list[Any] = []
    written = 0

    def write(cells: list[Any]) -> None:
        nonlocal header, written
        written += 1
        if written > SHEET_ROWS:
            raise DataError(f"--output {output}: an Excel sheet holds {SHEET_ROWS - 1:,} rows under its header and "
                            f"the input has more; write a .csv (or .jsonl) instead")
        header = header or cells
        typed = []
        for number, value in enumerate(cells):
            where = f"--output {output}: row {written - 1}, column {header[number]!r}"
            if isinstance(value, str) and len(value) > CELL_CHARACTERS:
                raise DataError(f"{where}: a text of {len(value):,} characters; an Excel cell holds at most "
                                f"{CELL_CHARACTERS:,}: write a .csv (or .jsonl) instead")
            try:
                cell = WriteOnlyCell(sheet, value=None if value == "" else value)  # "": a blank cell
            except IllegalCharacterError:
                raise DataError(f"{where} ({get_column_letter(number + 1)}{written}): a control character an Excel "
                                f"cell cannot hold; write a .csv (or .jsonl) instead") from None
            if isinstance(value, str):
                cell.data_type = "s"  # a text starting with "=" is a text, never a formula
            typed.append(cell)
        sheet.append(typed)

    try:
        yield write
    finally:
        book.save(staging)  # on an error too: saving is what ends openpyxl's row writer and removes its temporary file
    with open(staging, "rb+") as out:
        os.fsync(out.fileno())


def _row(record: dict[str, Any], row: dict[str, Any], input_columns: dict[str, None],
         columns: dict[str, None]) -> list[Any]:
    cells = _cells(record["prediction"])
    return [record["row"], *(_cell(row.get(c)) for c in input_columns), *(cells.get(c, "") for c in columns)]


def _cells(prediction: Any) -> dict[str, Any]:
    """A prediction's cells by column name (module docstring)."""
    if not isinstance(prediction, dict):
        return {"prediction": _cell(prediction)}
    out = {}
    for key, value in prediction.items():
        if isinstance(value, dict) and not any(isinstance(v, dict | list) for v in value.values()):
            out.update({f"{PREFIX}{key}.{k}": _cell(v) for k, v in value.items()})
        else:
            out[f"{PREFIX}{key}"] = _cell(value)
    return out


def _cell(value: Any) -> Any:
    """One cell: JSON text for lists and objects, JSON's true/false, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _delimiter(path: Path) -> str:
    return DELIMITERS.get(path.suffix.lower(), ",")
