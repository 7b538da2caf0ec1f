"""Excel workbooks read as their sheet saved as CSV UTF-8 would read, whole or streamed, or refused in one line."""

from __future__ import annotations

import datetime
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tasuki.data import iter_rows, load_data, read_file
from tasuki.errors import DataError
from tasuki.testing import run_cli
from tasuki_template.plugin import TemplateClassificationTask as Toy

openpyxl = pytest.importorskip("openpyxl")


@pytest.fixture(autouse=True)
def data_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASUKI_CACHE", str(tmp_path / "cache"))  # a streamed read writes its Arrow files here


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_cells_read_as_a_csv_export_writes_them(tmp_path: Path) -> None:
    path = workbook(tmp_path / "book.xlsx", {"empty first": [], "data": [
        [None],  # blank rows before the header and between rows are skipped, as blank CSV lines are
        ["text", " label ", "score", "when", "ok", None],  # a formatted but unnamed column at the right
        ["good film", "pos", 3.0, datetime.date(2026, 12, 6), True],
        [2024, 1, 0.25, None, False],  # a number where a text is: text, so the column keeps one type
        [None, None, None, None, None],
        ["two\r\nlines", "neg", -1.5, datetime.datetime(2026, 1, 2, 3, 4), None],
    ]})
    expected = [
        {"text": "good film", "label": "pos", "score": "3", "when": "2026-12-06", "ok": "TRUE"},
        {"text": "2024", "label": "1", "score": "0.25", "when": "", "ok": "FALSE"},
        {"text": "two\nlines", "label": "neg", "score": "-1.5", "when": "2026-01-02T03:04:00", "ok": ""},
    ]
    assert read_file(path).to_list() == expected
    assert read_file(path, stream=True).to_list() == expected
    assert list(iter_rows(path)) == expected
    data, _ = load_data(path, Toy, columns={"label": "label"})
    assert data["label"] == ["pos", "1", "neg"]


@pytest.mark.parametrize(("sheets", "message"), [
    ({"a": [["text"], ["x"]], "b": [["text"], ["y"]]}, "sheets 'a', 'b' all hold data; tasuki reads a workbook of one "
                                                       "sheet: save the sheet you mean as its own workbook or as CSV"),
    ({"a": [], "b": [[None]]}, "empty workbook (no sheet has a value)"),
    ({"a": [[None, "text", None, "label"], [0, "x", "", "pos"]]}, "fields 1, 3 of the header row have no name"),
    ({"a": [["text", "label"], ["x", "pos"], ["y", "neg", "extra"]]},
     "sheet 'a', row 3: a value in column C, which has no name in the header row"),
    ({"a": [["Customer feedback 2026"], [None], ["text", "label"], ["x", "pos"]]},
     "row 3: a value in column B, which has no name in the header row; is 'Customer feedback 2026' a title above the "
     "table? The header must be the first row"),
    ({"a": [["text", "label", "text"], ["x", "pos", "y"]]}, "duplicate column 'text' in the header"),
    ({"a": [["text", "label"]]}, "no examples in file"),
    ({"a": [["text", "label"], ["x", '=UPPER("pos")']]},  # openpyxl saves formulas without a value, as scripts do
     "sheet 'a', cell B2: the formula =UPPER(\"pos\") has no saved value (the workbook was written by a program"),
    ({"a": [["text", "label"], ["=A3", None], ["y", "neg"]]}, "cell A2: the formula =A3 has no saved value"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_a_workbook_tasuki_cannot_read_right_is_refused(sheets: dict, message: str, stream: bool,
                                                        tmp_path: Path) -> None:
    path = workbook(tmp_path / "book.xlsx", sheets)
    with pytest.raises(DataError, match="^" + re.escape(str(path)) + ".*" + re.escape(message)):
        read_file(path, stream=stream)


def test_a_workbook_saved_by_pandas_with_its_index_reads(tmp_path: Path) -> None:
    import pandas

    path = tmp_path / "pandas.xlsx"
    pandas.DataFrame({"text": ["good film", "bad film"], "label": ["pos", "neg"]}).to_excel(path)  # index kept
    expected = [{"": "0", "text": "good film", "label": "pos"}, {"": "1", "text": "bad film", "label": "neg"}]
    assert list(read_file(path)) == list(iter_rows(path)) == expected


def test_a_formula_reads_as_the_value_excel_saved(tmp_path: Path) -> None:
    path = workbook(tmp_path / "book.xlsx", {"a": [["text", "label"], ["x", '=UPPER("pos")']]})
    with zipfile.ZipFile(path) as book:  # what Excel writes on saving: the formula and its value
        parts = {name: book.read(name) for name in book.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(b'<c r="B2"><f>', b'<c r="B2" t="str"><f>').replace(b"</f>", b"</f><v>POS</v>")
    with zipfile.ZipFile(path, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)
    assert read_file(path).to_list() == [{"text": "x", "label": "POS"}]


def test_a_file_named_xlsx_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_text("text,label\ngood,pos\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"export\.xlsx: not a readable Excel workbook"):
        read_file(path)


def test_train_and_predict_a_table_from_a_workbook(registry, backbone_dir: str, tmp_path: Path) -> None:
    rows = [["good movie", "pos"], ["bad movie", "neg"], ["great food", "pos"], ["awful food", "neg"]] * 4
    path = workbook(tmp_path / "reviews.xlsx", {"Sheet1": [["id", "review", "label"],
                                                           *[[i, t, label] for i, (t, label) in enumerate(rows)]]})
    out = tmp_path / "model"
    code, _, err = run_cli("train", "template-classify", "--data", path, "--column", "text=review", "--output", out,
                           "--backbone", backbone_dir, "--max-steps", "1", "--batch-size", "8", "--no-checkpoints")
    assert code == 0, err
    code, _, err = run_cli("predict", out, "--input", path, "--output", tmp_path / "scored.csv")
    assert code == 0, err
    lines = (tmp_path / "scored.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("row,id,review,label,prediction.") and lines[1].startswith("1,0,good movie,pos,")
    assert len(lines) == 1 + len(rows)
