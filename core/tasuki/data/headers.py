"""A table's header row, read the same way in CSV, TSV, JSON frames and workbooks: its column names, a name
given twice or left out, and a separator the file was not written with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tasuki.errors import DataError


def check_header(path: Path, names: Sequence[str]) -> None:
    """Refuse a header that names a column twice (a reader would keep only the last one's values) or leaves two
    unnamed; one unnamed column (pandas writes its index so) is the column ``""``, kept as any other."""
    unnamed = [str(i + 1) for i, name in enumerate(names) if not name]
    if len(unnamed) > 1:
        raise DataError(f"{path}: fields {', '.join(unnamed)} of the header row have no name; give every column its "
                        f"own name")
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise DataError(f"{path}: duplicate column {', '.join(map(repr, repeated))} in the header; "
                        f"give every column its own name")


def delimiter(suffix: str) -> str:
    """The field separator a ``.csv`` (comma) or ``.tsv`` (tab) file is read with."""
    return "\t" if suffix == ".tsv" else ","


def _separated(delimiter: str) -> str:
    return "tab-separated" if delimiter == "\t" else "comma-separated"


# a separator a one-column header should not hold: (what it looks like, the fix)
_OTHER_SEPARATORS = {";": ("semicolons", "save it again as CSV with commas"), "\t": ("tabs", "rename it .tsv"),
                     ",": ("commas", "rename it .csv")}


def check_delimiter(path: Path, suffix: str, names: Sequence[str]) -> None:
    """Refuse a one-column header that holds another separator: a ``;``-separated export (Excel in much of
    Europe) or a tab-separated file named ``.csv`` would otherwise read as one column named ``text;label``."""
    expected = delimiter(suffix)
    found = [sep for sep in _OTHER_SEPARATORS if sep != expected and len(names) == 1 and sep in names[0]]
    if found:
        looks, fix = _OTHER_SEPARATORS[found[0]]
        raise DataError(f"{path}: the header {names[0]!r} is one column: its fields look separated by {looks}, "
                        f"and a {suffix} file is read as {_separated(expected)}; {fix}")


def separator_line(path: Path, suffix: str, cells: list[str]) -> bool:
    """Whether ``cells`` (a file's first record) is Excel's separator line (``sep=,``), to be skipped; one
    naming a separator the file is not read with is refused."""
    expected = delimiter(suffix)
    line = expected.join(cells).lstrip("\ufeff")
    if not (line.startswith("sep=") and len(line) == 5):
        return False
    if line[4] != expected:
        raise DataError(f"{path}: line 1 ({line!r}) says the fields are separated by {line[4]!r}, and a {suffix} file "
                        f"is read as {_separated(expected)}; save it again as CSV UTF-8")
    return True


def header_names(path: Path, header: list[str]) -> list[str]:
    """A header row's column names (CSV, TSV or a workbook's first row): empty ones at the right are dropped (a
    spreadsheet saves its stray empty columns as ``text,label,,``; a value under one is refused row by row by
    the reader), then :func:`check_header`."""
    names = [name.strip().lstrip("\ufeff") for name in header]
    if any("\x00" in name for name in names):
        raise DataError(f"{path}: the header holds NUL characters: the file looks like UTF-16 without a byte-order "
                        f"mark; pass its encoding, e.g. --encoding utf-16-le (Python: encoding='utf-16-le')")
    while names and not names[-1]:
        names.pop()
    if not names:
        raise DataError(f"{path}: the header row names no column")
    check_header(path, names)
    return names


def title_hint(names: Sequence[str], first_row: bool) -> str:
    """What to add to "a value past the header" on the first row under a one-column header: a title line
    above the table (``Customer feedback 2026``) read as the header."""
    if len(names) == 1 and first_row:
        return f"; is {names[0]!r} a title above the table? The header must be the first row: delete the rows above it"
    return ""
