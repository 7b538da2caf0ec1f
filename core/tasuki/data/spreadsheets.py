"""Excel workbooks (``.xlsx``, ``.xlsm``) read as their sheet would read saved as CSV UTF-8.

The sheet's first row with a value is the header; every cell comes as text, as a CSV export writes it: an
empty cell ``""``, a whole number ``"3"`` (Excel stores ``3`` as ``3.0``), other numbers at full precision
(``"0.1"``), booleans ``"TRUE"``/``"FALSE"``, dates ISO 8601 (``"2026-12-06"``, with the time when it is not
midnight). So a column keeps one type whatever its cells hold (a text column with the text ``2024`` in it stays
text) and the tasks parse labels and scores exactly as from a CSV. Formulas give the value Excel last saved
(openpyxl's ``data_only``: nothing is evaluated); a workbook written by a program and never opened in Excel may
hold formulas without saved values, refused naming the cell (read as empty, they would be a silent wrong value):
a workbook with formulas is read a second time, formulas kept, beside the values.

A workbook with data on several sheets is refused naming them (which one is meant is not ours to guess);
a header naming a column twice or leaving two unnamed (one is the column ``""``: pandas' index), a value under
no header and a file that is not a workbook are refused with the row. Read-only mode: rows stream, memory
stays flat on large sheets.
"""

from __future__ import annotations

import datetime
import re
import zipfile
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

from tasuki.data.headers import header_names, title_hint
from tasuki.errors import DataError

WORKBOOKS = (".xlsx", ".xlsm")
"""Suffixes read here: the Office Open XML workbooks openpyxl reads (not the binary ``.xls``, nor ``.ods``)."""


def cell_text(value: Any) -> str:
    """A cell's value as a CSV export writes it (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()  # Excel keeps a date as a date-time at midnight
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def workbook_rows(path: Path) -> Iterator[dict[str, str]]:
    """The rows of the one sheet of ``path`` that holds data, as ``{header: text}``."""
    import openpyxl
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        # the formulas behind the values, read only where there are any: it doubles the time
        written = openpyxl.load_workbook(path, read_only=True, data_only=False) if _has_formulas(path) else None
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a readable Excel workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheets = [sheet for sheet in book.worksheets if _has_data(sheet)]
        if not sheets:
            raise DataError(f"{path}: empty workbook (no sheet has a value)")
        if len(sheets) > 1:
            names = ", ".join(repr(sheet.title) for sheet in sheets)
            raise DataError(f"{path}: sheets {names} all hold data; tasuki reads a workbook of one sheet: save the "
                            f"sheet you mean as its own workbook or as CSV UTF-8")
        where = f"{path}: sheet {sheets[0].title!r}"
        values = sheets[0].iter_rows(values_only=True)
        pairs = zip(values, written[sheets[0].title].iter_rows(values_only=True) if written else repeat(()))
        rows = ((number, _saved(row, formulas, where, number)) for number, (row, formulas) in enumerate(pairs, 1)
                if any(_filled(v) for v in row) or any(_filled(v) for v in formulas))  # blank rows skipped
        names = header_names(path, [cell_text(v) for v in next(rows)[1]])  # formatted empty columns dropped
        for count, (number, cells) in enumerate(rows):
            texts = [cell_text(v) for v in cells]
            beyond = [i for i, text in enumerate(texts) if i >= len(names) and text.strip()]
            if beyond:
                raise DataError(f"{where}, row {number}: a value in column {get_column_letter(beyond[0] + 1)}, "
                                f"which has no name in the header row{title_hint(names, count == 0)}")
            yield {name: texts[i] if i < len(texts) else "" for i, name in enumerate(names)}
    finally:
        book.close()
        if written:
            written.close()


def _saved(values: tuple[Any, ...], formulas: tuple[Any, ...], where: str, number: int) -> tuple[Any, ...]:
    """A row's values; a formula cell with no value saved (a workbook no spreadsheet program recalculated) is
    refused, since read as empty it would be a silent wrong value."""
    from openpyxl.utils import get_column_letter

    for column, (value, formula) in enumerate(zip(values, formulas), start=1):
        if value is None and isinstance(formula, str) and formula.startswith("="):
            raise DataError(f"{where}, cell {get_column_letter(column)}{number}: the formula {formula} has no saved "
                            f"value (the workbook was written by a program and never recalculated): open and save "
                            f"it in Excel or LibreOffice, or save it as CSV UTF-8")
    return values


def _has_formulas(path: Path) -> bool:
    """Whether any sheet of the workbook holds a formula (an ``<f>`` element), read in a stream of bytes."""
    formula = re.compile(rb"<(?:\w+:)?f[\s>/]")
    with zipfile.ZipFile(path) as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with book.open(name) as sheet:
                    tail = b""
                    while chunk := sheet.read(2**20):
                        if formula.search(tail + chunk):
                            return True
                        tail = chunk[-16:]
    return False


def _filled(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _has_data(sheet: Any) -> bool:
    return any(any(_filled(v) for v in row) for row in sheet.iter_rows(values_only=True))
