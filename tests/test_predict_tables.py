"""``predict --output FILE.csv|FILE.tsv|FILE.xlsx``: a table of the input's rows and their predictions, as resumable and as
careful with existing files as the JSON-lines output it is written from."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

import tasuki
from tasuki.errors import DataError
from tasuki.prediction import tables
from tasuki.registry import Registry
from tasuki.testing import run_cli as invoke

ROWS = [{"text": t, "label": "pos"} for t in ("good movie", "great food", "nice place")] + \
       [{"text": t, "label": "neg"} for t in ("bad movie", "terrible food", "awful place")]


@pytest.fixture(scope="module")
def model(registry: Registry, backbone_dir: str, tmp_path_factory: pytest.TempPathFactory) -> tasuki.TrainedModel:
    out = tmp_path_factory.mktemp("tables") / "model"
    tasuki.train("template-classify", ROWS * 3, backbone=backbone_dir, output_dir=out, max_steps=2, batch_size=4,
                 checkpoints=False, progress=False, eval_split=0)
    return tasuki.load(out, device="cpu")


def read_table(path: Path) -> list[dict[str, str]]:
    """A table's rows, every cell as text (a workbook's numbers written as a CSV writes them)."""
    if path.suffix == ".xlsx":
        header, *lines = tables._read_lines(path)
        return [{name: str(cell) for name, cell in zip(header, line)} for line in lines]
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ","))


def test_a_table_worked_by_hand(tmp_path: Path) -> None:
    """Columns: row, the input's (a key only later rows have included), then the prediction's, nested objects one
    column a key, lists as JSON text, null empty, booleans as JSON writes them."""
    lines = tmp_path / "p.jsonl"
    lines.write_text(
        '{"row": 1, "prediction": {"label": "pos", "score": 0.9, "scores": {"pos": 0.9, "neg": 0.1}}}\n'
        '{"row": 2, "prediction": {"label": "neg", "score": 0.6, "scores": {"neg": 0.6}, "spans": [1, 2], '
        '"flag": true, "note": null}}\n', encoding="utf-8")
    inputs = [{"text": 'say "hi", then go'}, {"text": "日本語\nです", "id": 7}]
    tables.write_table(lines, lambda: iter(inputs), tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == (
        "row,text,id,prediction.label,prediction.score,prediction.scores.pos,prediction.scores.neg,"
        "prediction.spans,prediction.flag,prediction.note\n"
        '1,"say ""hi"", then go",,pos,0.9,0.9,0.1,,,\n'
        '2,"日本語\nです",7,neg,0.6,,0.6,"[1, 2]",true,\n')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "p.jsonl"]  # no staging file left
    lines.write_text('{"row": 1, "prediction": [0.25, -1.0]}\n', encoding="utf-8")
    tables.write_table(lines, lambda: iter([{"text": "a"}]), tmp_path / "v.tsv")
    assert (tmp_path / "v.tsv").read_text(encoding="utf-8") == "row\ttext\tprediction\n1\ta\t[0.25, -1.0]\n"


def test_a_table_of_another_input_length_is_refused(tmp_path: Path) -> None:
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"row": 1, "prediction": 1}\n{"row": 2, "prediction": 2}\n', encoding="utf-8")
    with pytest.raises(DataError, match="the input changed while it was predicted"):
        tables.write_table(lines, lambda: iter([{"text": "a"}]), tmp_path / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]


def test_a_workbook_worked_by_hand(tmp_path: Path) -> None:
    """The same cells as the CSV above, typed: numbers as numbers, every text as text (one that starts with ``=``
    too: never a formula), one sheet."""
    openpyxl = pytest.importorskip("openpyxl")
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"row": 1, "prediction": {"label": "pos", "score": 0.9, "spans": [1, 2], "flag": true}}\n'
                     '{"row": 2, "prediction": {"label": "neg", "score": 0.25, "note": null}}\n', encoding="utf-8")
    inputs = [{"text": "=HYPERLINK(\"http://x\")", "id": "7"}, {"text": "日本語\nです", "id": "8"}]
    tables.write_table(lines, lambda: iter(inputs), tmp_path / "out.xlsx")
    book = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert book.sheetnames == ["predictions"]
    assert [[(c.value, c.data_type) for c in line] for line in book.active.iter_rows()] == [
        [("row", "s"), ("text", "s"), ("id", "s"), ("prediction.label", "s"), ("prediction.score", "s"),
         ("prediction.spans", "s"), ("prediction.flag", "s"), ("prediction.note", "s")],
        [(1, "n"), ('=HYPERLINK("http://x")', "s"), ("7", "s"), ("pos", "s"), (0.9, "n"), ("[1, 2]", "s"),
         ("true", "s"), (None, "n")],
        [(2, "n"), ("日本語\nです", "s"), ("8", "s"), ("neg", "s"), (0.25, "n"), (None, "n"), (None, "n"),
         (None, "n")]]
    with zipfile.ZipFile(tmp_path / "out.xlsx") as written:
        assert b"<f>" not in written.read("xl/worksheets/sheet1.xml")
    assert tables.is_table_output(tmp_path / "out.xlsx") and tables.count_rows(tmp_path / "out.xlsx") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx", "p.jsonl"]


@pytest.mark.parametrize(("text", "message"), [
    ("x" * 32_768, "row 2, column 'text': a text of 32,768 characters; an Excel cell holds at most 32,767"),
    ("bell\x07", "row 2, column 'text' (B3): a control character an Excel cell cannot hold"),
    (None, "an Excel sheet holds 2 rows under its header and the input has more"),
])
def test_what_a_sheet_cannot_hold_is_refused_and_nothing_is_left(text: str | None, message: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    if text is None:
        monkeypatch.setattr(tables, "SHEET_ROWS", 3)
    lines = tmp_path / "p.jsonl"
    lines.write_text("".join(f'{{"row": {n}, "prediction": {{"label": "pos"}}}}\n' for n in (1, 2, 3)),
                     encoding="utf-8")
    inputs = [{"text": "fine"}, {"text": text or "fine"}, {"text": "fine"}]
    with pytest.raises(DataError, match=r"^--output .*out\.xlsx: " + message.replace("(", r"\(").replace(")", r"\)")):
        tables.write_table(lines, lambda: iter(inputs), tmp_path / "out.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx"])
def test_predict_writes_the_table_of_its_json_lines(model, suffix: str, tmp_path: Path) -> None:
    """The same predictions as the JSON lines, beside every column of the input (a CSV with an id, quotes, commas
    and a Japanese text), through the CLI."""
    source = tmp_path / "in.csv"
    source.write_text('id,text\n10,good movie\n11,"bad, ""awful"" food"\n12,とても良い店\n', encoding="utf-8")
    code, _, err = invoke("predict", model.directory, "--input", source, "--output", tmp_path / f"out{suffix}")
    assert code == 0, err
    assert "wrote" in err and "3 rows predicted" in err
    model.predict_file(source, tmp_path / "out.jsonl", progress=False)
    expected = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    table = read_table(tmp_path / f"out{suffix}")
    assert [r["row"] for r in table] == ["1", "2", "3"]
    assert [(r["id"], r["text"]) for r in table] == [("10", "good movie"), ("11", 'bad, "awful" food'),
                                                     ("12", "とても良い店")]
    assert [r["prediction.label"] for r in table] == [e["prediction"]["label"] for e in expected]
    assert [float(r["prediction.score"]) for r in table] == pytest.approx([e["prediction"]["score"] for e in expected])
    assert list(table[0]) == ["row", "id", "text", "prediction.label", "prediction.score"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.csv", "out.jsonl", f"out{suffix}"])


def test_a_stopped_table_run_resumes_and_a_finished_one_is_kept(model, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.txt"
    source.write_text("".join(f"{ROWS[i % 6]['text']} {i}\n" for i in range(50)), encoding="utf-8")
    model.predict_file(source, tmp_path / "full.csv", progress=False)
    real, calls = model.predict, {"n": 0}

    def stops(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "predict", stops)
    with pytest.raises(KeyboardInterrupt):
        model.predict_file(source, tmp_path / "out.csv", chunk_size=10, progress=False)
    monkeypatch.setattr(model, "predict", real)
    assert not (tmp_path / "out.csv").exists()
    assert len((tmp_path / "out.csv.partial").read_text(encoding="utf-8").splitlines()) == 20  # JSON lines so far
    assert model.predict_file(source, tmp_path / "out.csv", chunk_size=7, resume=True, progress=False) == 30
    got, full = read_table(tmp_path / "out.csv"), read_table(tmp_path / "full.csv")
    assert [(r["row"], r["text"], r["prediction.label"]) for r in got] == \
           [(r["row"], r["text"], r["prediction.label"]) for r in full]
    assert not (tmp_path / "out.csv.partial").exists()
    before = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert model.predict_file(source, tmp_path / "out.csv", resume=True, progress=False) == 0  # finished: kept
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == before
    source.write_text("one more\n" * 51, encoding="utf-8")
    with pytest.raises(DataError, match="out.csv holds 50 rows but the input has 51"):
        model.predict_file(source, tmp_path / "out.csv", resume=True, progress=False)
    assert model.predict_file(source, tmp_path / "out.csv", progress=False) == 51  # its own table: replaced


def test_a_table_never_replaces_a_data_file_nor_takes_a_clashing_column(model, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("row,text\n1,good\n2,bad\n", encoding="utf-8")
    data = tmp_path / "train.csv"
    for table in ("text,label\ngood,pos\n", "row,text,label\n1,good,pos\n"):  # a "row" column alone is not ours
        data.write_text(table, encoding="utf-8")
        code, _, err = invoke("predict", model.directory, "--input", source, "--output", data)
        assert code == 2 and "Traceback" not in err
        assert "not the output of tasuki predict" in err.splitlines()[-1]
        assert data.read_text(encoding="utf-8") == table
    code, _, err = invoke("predict", model.directory, "--input", source, "--output", tmp_path / "out.csv")
    assert code == 2 and "Traceback" not in err
    assert "the input column 'row' has the name of a column the table adds" in err.splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "train.csv"]
    assert model.predict_file(source, tmp_path / "out.jsonl", progress=False) == 2  # JSON lines take it
    book = tmp_path / "book.xlsx"
    book.write_bytes(b"PK not really a workbook")
    code, _, err = invoke("predict", model.directory, "--input", tmp_path / "out.jsonl", "--output", book)
    assert code == 2 and "not the output of tasuki predict" in err.splitlines()[-1]
    assert book.read_bytes() == b"PK not really a workbook"
    assert tables.is_table_output(tmp_path / "empty.csv") is False  # no such file
    (tmp_path / "ours.csv").write_text("row,text,prediction.label\n1,good,pos\n", encoding="utf-8")
    assert tables.is_table_output(tmp_path / "ours.csv")


@pytest.mark.parametrize("name", ["out.jsonl", "out.csv"])
def test_two_processes_write_the_one_process_output(model, name: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Process r predicts chunks r, r + 2, ... into its part; the main one merges them in input order (and writes
    the table from them). The processes run one after the other here, rank 1 first: the merge waits for both."""
    from tasuki.prediction import files

    source = tmp_path / "in.txt"
    source.write_text("".join(f"{ROWS[i % 6]['text']} {i}\n" for i in range(23)), encoding="utf-8")
    model.predict_file(source, tmp_path / f"one-{name}", chunk_size=5, progress=False)
    monkeypatch.setattr(files, "_barrier", lambda world: None)
    for rank, rows in ((1, 10), (0, 13)):  # chunks 1, 3 (10 rows); chunks 0, 2, 4 (13 rows)
        monkeypatch.setattr(files, "launcher_world", lambda rank=rank: (rank, 2))
        assert model.predict_file(source, tmp_path / name, chunk_size=5, progress=False) == rows
    assert (tmp_path / name).read_bytes() == (tmp_path / f"one-{name}").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.txt", name, f"one-{name}"])
