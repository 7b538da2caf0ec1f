"""Data input at the door: files, labels, splits and Python values are read right, or refused in one line (exit 2).

Each case was silently wrong or a traceback before: a duplicated column trained on its last copy, TSV was read
with CSV quoting, ``negative`` and ``negative `` were two classes, an unreadable file, ``--eval-split 0.99``
and ``adapt --held-out 1.0`` were tracebacks, a DataFrame was taken for a file name.
"""

from __future__ import annotations

import builtins
import io
import logging
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.cli import cli
from tasuki.data import iter_rows, read_file
from tasuki.errors import DataError, TasukiError
from tasuki.testing import run_cli
from tasuki_template import plugin as toy_plugin

ROWS = [("good movie", "pos"), ("great food", "pos"), ("nice place", "pos"), ("bad movie", "neg"),
        ("terrible food", "neg"), ("awful place", "neg"), ("fine day", "pos"), ("sad day", "neg")] * 5  # 40 rows


@pytest.fixture(autouse=True)
def data_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASUKI_CACHE", str(tmp_path / "cache"))  # --streaming writes its Arrow files here


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def good_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "good.csv", "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in ROWS))


def invoke(*args: Any, command: Any = cli) -> tuple[int, str]:
    code, _, err = run_cli(*args, command=command)
    return code, err


def assert_clear_error(args: tuple[Any, ...], expected: str, command: Any = cli) -> None:
    code, err = invoke(*args, command=command)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (args, code, err)
    assert "Traceback" not in err, err
    assert lines and expected in lines[-1], (expected, err)


def train_args(data: Path, out: Path, backbone: str, *extra: str) -> tuple[Any, ...]:
    return ("train", "template-classify", "--data", data, "--output", out, "--backbone", backbone, "--max-steps", "1",
            "--batch-size", "8", "--no-checkpoints", *extra)


# --- 1. a column name given twice ------------------------------------------------------------


@pytest.mark.parametrize(("name", "text", "extra"), [
    ("dup.csv", "text,label,text\ngood,pos,bad\nbad,neg,good\n", ()),
    ("dup_streamed.csv", "text,label,text\ngood,pos,bad\nbad,neg,good\n", ("--streaming",)),
    ("dup.tsv", "text\tlabel\t text\ngood\tpos\tbad\nbad\tneg\tgood\n", ()),
    ("dup_streamed.tsv", "text\tlabel\ttext\ngood\tpos\tbad\nbad\tneg\tgood\n", ("--streaming",)),
])
def test_a_duplicated_column_is_refused(name: str, text: str, extra: tuple[str, ...], registry, backbone_dir,
                                        tmp_path: Path) -> None:
    path = write(tmp_path / name, text)
    out = tmp_path / "out"
    assert_clear_error(train_args(path, out, backbone_dir, *extra), f"{path}: duplicate column 'text' in the header")
    assert not out.exists()


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("semicolons.csv", "text;label\ngood;pos\nbad, really;neg\n", "separated by semicolons, and a .csv file is read "
                                                                      "as comma-separated; save it again as CSV with commas"),
    ("tabs.csv", "text\tlabel\ngood\tpos\n", "separated by tabs, and a .csv file is read as comma-separated; rename it .tsv"),
    ("commas.tsv", "text,label\ngood,pos\n", "separated by commas, and a .tsv file is read as tab-separated; rename it .csv"),
])
def test_another_separator_is_named_not_read_as_one_column(name: str, text: str, expected: str, registry, backbone_dir,
                                                          tmp_path: Path) -> None:
    """A European Excel export (``;``) or a TSV named .csv read as one column ``text;label``: the error was a missing
    column with advice to map columns (or, with a comma in a row, "more fields than the header has")."""
    path = write(tmp_path / name, text)
    out = tmp_path / "out"
    assert_clear_error(train_args(path, out, backbone_dir), f"{path}: the header {text.split(chr(10))[0]!r} is one column")
    assert_clear_error(train_args(path, out, backbone_dir), expected)
    for stream in (False, True):
        with pytest.raises(DataError, match="is one column"):
            read_file(path, stream=stream)
    assert not out.exists()
    row = '"good; fine, really"' if path.suffix == ".csv" else "good; fine, really"
    single = write(tmp_path / ("one" + path.suffix), f"text\n{row}\n")  # one column, separators in a row: read
    assert list(read_file(single)) == [{"text": "good; fine, really"}]


@pytest.mark.parametrize("stream", [False, True])
def test_excels_separator_line_is_skipped_or_refused(stream: bool, tmp_path: Path) -> None:
    comma = write(tmp_path / "comma.csv", "sep=,\r\ntext,label\r\ngood,pos\r\n")
    assert list(read_file(comma, stream=stream)) == [{"text": "good", "label": "pos"}]
    semicolon = write(tmp_path / "semicolon.csv", "sep=;\ntext;label\ngood;pos\n")
    with pytest.raises(DataError, match=r"semicolon.csv: line 1 \('sep=;'\) says the fields are separated by ';'"):
        list(read_file(semicolon, stream=stream))


@pytest.mark.parametrize("stream", [False, True])
def test_a_duplicated_jsonl_key_is_refused(stream: bool, tmp_path: Path) -> None:
    path = write(tmp_path / "dup.jsonl", '{"text": "good", "label": "pos"}\n{"text": "good", "label": "pos", "text": "x"}\n')
    with pytest.raises(DataError, match=r"dup.jsonl: line 2: duplicate key 'text'"):
        read_file(path, stream=stream)


def test_a_csv_saved_with_pandas_index_and_stray_columns_trains(registry, backbone_dir, tmp_path: Path) -> None:
    path = write(tmp_path / "index.csv", ",text,label,,\n" + "".join(f"{i},{t},{lab},,\n" for i, (t, lab) in enumerate(ROWS)))
    code, err = invoke(*train_args(path, tmp_path / "out", backbone_dir))
    assert code == 0, err
    assert (tmp_path / "out" / "tasuki.json").is_file()


@pytest.mark.parametrize("stream", [False, True])
def test_empty_columns_at_the_right_of_a_header_are_no_columns(stream: bool, tmp_path: Path) -> None:
    # a spreadsheet saves its stray empty columns as "text,label,,": nothing under them, nothing to refuse
    path = write(tmp_path / "stray.csv", "text,label,,\r\ngood,pos,,\r\nbad,neg\r\nfine,pos,, \r\n")
    assert list(read_file(path, stream=stream)) == [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"},
                                                    {"text": "fine", "label": "pos"}]
    titled = write(tmp_path / "titled.csv", "Customer feedback 2026\n\ntext,label\ngood,pos\n")
    with pytest.raises(DataError, match=r"titled.csv: line 3: .*; is 'Customer feedback 2026' a title above the table"):
        list(read_file(titled, stream=stream))
    valued = write(tmp_path / "valued.csv", "text,label,,\ngood,pos,,\nbad,neg,,oops\n")
    with pytest.raises(DataError, match=r"valued.csv: line 3: a value in field 4, past the 2 the header names"):
        list(read_file(valued, stream=stream))
    # one unnamed column is a column (pandas writes its index so: to_csv without index=False); two are refused
    index = write(tmp_path / "index.csv", ",text,label\n0,good,pos\n1,bad,neg\n")
    assert list(read_file(index, stream=stream)) == [{"": "0", "text": "good", "label": "pos"},
                                                     {"": "1", "text": "bad", "label": "neg"}]
    two = write(tmp_path / "two.csv", ",text,,label\n0,good,,pos\n")
    with pytest.raises(DataError, match=r"two.csv: fields 1, 3 of the header row have no name"):
        list(read_file(two, stream=stream))
    with pytest.raises(DataError, match=r"commas.csv: the header row names no column"):
        list(read_file(write(tmp_path / "commas.csv", ",,\ngood,pos,\n"), stream=stream))


@pytest.mark.parametrize("stream", [False, True])
def test_an_empty_text_in_a_one_column_csv_is_a_row_not_a_blank_line(stream: bool, tmp_path: Path) -> None:
    # pandas writes an empty text of a one-column frame as `""`: skipped, predict's output would lose a row
    path = write(tmp_path / "one.csv", 'text\ngood\n""\n\nbad\n')
    assert list(read_file(path, stream=stream)) == [{"text": "good"}, {"text": ""}, {"text": "bad"}]
    # a quoted text of spaces too (it was dropped, and every later row's number shifted); an unquoted line of
    # spaces is a blank line, as before
    path = write(tmp_path / "spaces.csv", 'text\ngood\n"  "\n  \nbad\n')
    assert list(read_file(path, stream=stream)) == [{"text": "good"}, {"text": "  "}, {"text": "bad"}]


def test_a_json_file_saved_by_pandas_or_datasets_reads_in_each_of_their_layouts(tmp_path: Path) -> None:
    import pandas
    from datasets import Dataset

    frame = pandas.DataFrame({"text": ["good", "bad", "fine"], "label": [["a"], [], ["a", "b"]]}, index=[7, 2, 5])
    expected = [{"text": "good", "label": ["a"]}, {"text": "bad", "label": []}, {"text": "fine", "label": ["a", "b"]}]
    for orient in ("columns", "index", "split", "records"):  # "columns" is to_json()'s default
        frame.to_json(tmp_path / f"{orient}.json", orient=orient)
        assert list(read_file(tmp_path / f"{orient}.json")) == expected, orient
    # JSON Lines named .json, as datasets' to_json writes it by default; a bad line is named as in a .jsonl
    Dataset.from_list(expected).to_json(tmp_path / "lines.json")
    assert list(read_file(tmp_path / "lines.json")) == expected
    broken = write(tmp_path / "broken.json", '{"text": "good", "label": []}\n{"text": oops}\n')
    with pytest.raises(DataError, match=r"broken.json: line 2: invalid JSON \(Expecting value\)"):
        read_file(broken)
    frame.to_json(tmp_path / "array.jsonl", orient="records")  # an array named .jsonl
    with pytest.raises(DataError, match=r"array.jsonl: line 1: expected a JSON object, got list \(a JSON array"):
        read_file(tmp_path / "array.jsonl")
    # columns named by integers in a frame with an integer index: which side is the index is not guessed
    pandas.DataFrame({0: ["good"], 1: ["pos"]}).to_json(tmp_path / "numbered.json")
    frame.to_json(tmp_path / "values.json", orient="values")
    for name in ("numbered", "values"):
        with pytest.raises(DataError, match=rf"{name}.json: expected a list of JSON objects .*orient='records'"):
            read_file(tmp_path / f"{name}.json")


@pytest.mark.parametrize("stream", [False, True])
def test_broken_quoting_and_utf16_without_a_mark_are_refused_naming_the_line(stream: bool, tmp_path: Path) -> None:
    # read leniently, a quote never closed makes the rest of the file one text: predict would lose the rows after it
    unclosed = write(tmp_path / "unclosed.csv", 'text,label\ngood,pos\n"never closed,neg\nbad,neg\nfine,pos\n')
    with pytest.raises(DataError, match=r"unclosed.csv: line 3: a field opens a quote that is never closed"):
        list(read_file(unclosed, stream=stream))
    after = write(tmp_path / "after.csv", 'text,label\ngood,pos\n"great" he said,pos\n')
    with pytest.raises(DataError, match=r"after.csv: line 3: a field that opens with a quote goes on after its closing"):
        list(read_file(after, stream=stream))
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("text,label\ngood,pos\n".encode("utf-16-le"))  # no byte-order mark: NULs between letters
    with pytest.raises(DataError, match=r"utf16.csv: the header holds NUL characters.*--encoding utf-16-le"):
        list(read_file(utf16, stream=stream))
    assert list(read_file(utf16, encoding="utf-16-le", stream=stream)) == [{"text": "good", "label": "pos"}]


def test_a_folder_of_text_files_trains_predicts_and_refuses_what_it_cannot_read(registry, backbone_dir,
                                                                              tmp_path: Path) -> None:
    # scikit-learn's load_files layout (BBC News, 20 Newsgroups): one text a file, its folder its label
    root = tmp_path / "reviews"
    for number, (text, label) in enumerate(ROWS):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{number:03}.txt").write_bytes(f"{text}\r\n".encode("latin-1"))
    (root / ".DS_Store").write_bytes(b"\x00\x01")  # hidden: not a text
    rows = list(read_file(root))
    assert len(rows) == len(ROWS) and rows[0] == {"text": "bad movie", "label": "neg", "file": "neg/003.txt"}
    assert {r["label"] for r in rows} == {label for _, label in ROWS} and list(iter_rows(root)) == rows
    code, err = invoke(*train_args(root, tmp_path / "out", backbone_dir))
    assert code == 0, err
    (root / "neg" / "x.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(DataError, match=r"x.txt: line 1: cannot decode byte 0xe9"):
        read_file(root)
    assert "café" in read_file(root, encoding="latin-1")["text"]
    for make, message in [(lambda: (root / "loose.txt").write_text("x"), r"'loose.txt' lies outside the label folders"),
                          (lambda: (root / "pos" / "more").mkdir(), r"pos/more: a folder inside the label folder 'pos'"),
                          (lambda: (root / "neg" / "empty.txt").write_text(" \n"), r"empty.txt: an empty text file"),
                          (lambda: (root / "unused").mkdir(), r"unused: an empty label folder")]:
        make()
        with pytest.raises(DataError, match=message):
            read_file(root, encoding="latin-1")
        for leftover in (root / "loose.txt", root / "neg" / "empty.txt"):
            leftover.unlink(missing_ok=True)
        for leftover in (root / "pos" / "more", root / "unused"):
            if leftover.is_dir():
                leftover.rmdir()
    # a folder of text files alone: unlabelled texts, predicted (in file name order) and refused for training
    letters = tmp_path / "letters"
    letters.mkdir()
    for name, text in [("b.txt", "bad movie"), ("a.txt", "caf\xe9 great food")]:
        (letters / name).write_bytes(text.encode("latin-1"))
    assert list(iter_rows(letters, encoding="latin-1")) == [{"text": "café great food", "file": "a.txt"},
                                                            {"text": "bad movie", "file": "b.txt"}]
    code, err = invoke("predict", tmp_path / "out", "--input", letters, "--encoding", "latin-1", "--output",
                       tmp_path / "letters.csv")
    assert code == 0, err
    lines = (tmp_path / "letters.csv").read_text("utf-8").splitlines()
    assert lines[0].startswith("row,text,file,prediction.label") and len(lines) == 3 and ",b.txt," in lines[2]
    assert_clear_error(train_args(letters, tmp_path / "no", backbone_dir, "--encoding", "latin-1"),
                       "text files without label folders, so no labels to train or evaluate on")
    assert not (tmp_path / "no").exists()
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match=r"nothing: an empty folder"):
        read_file(tmp_path / "nothing")


# --- 2. TSV: linear (quotes are text), or quoted as pandas writes it; other encodings by their BOM ----

TSV_ROWS = [('"great" he said', "pos"), ('"starts with a quote and never ends', "neg"), ("it's fine, really", "pos"),
            ('say ""twice""', "neg")] * 10


def test_tsv_quotes_are_text_in_both_readers(tmp_path: Path) -> None:
    path = write(tmp_path / "quotes.tsv", "text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in TSV_ROWS))
    expected = [{"text": t, "label": lab} for t, lab in TSV_ROWS]
    assert list(read_file(path)) == expected  # 40 rows, every quote kept
    assert list(read_file(path, stream=True)) == expected
    assert list(iter_rows(path)) == expected


QUOTED_TEXTS = ['he said "meh"', "two\nlines", "a\ttab", '"great" he said', "plain"]


def test_a_tsv_written_by_pandas_or_tasuki_reads_back_as_written(tmp_path: Path) -> None:
    import csv

    import pandas

    # pandas (and Excel, datasets, tasuki's own --output .tsv) quote a field holding a quote, tab or line break
    frame = pandas.DataFrame({"text": QUOTED_TEXTS, "label": ["pos", "neg", "pos", "neg", "pos"]})
    by_pandas = tmp_path / "pandas.tsv"
    frame.to_csv(by_pandas, sep="\t", index=False)
    by_csv = tmp_path / "tasuki.tsv"
    with open(by_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\r\n")  # CRLF: read as LF as ever
        writer.writerows([["text", "label"], *frame.itertuples(index=False)])
    expected = frame.to_dict("records")
    for path in (by_pandas, by_csv):
        assert list(read_file(path)) == list(read_file(path, stream=True)) == list(iter_rows(path)) == expected
    assert pandas.read_csv(by_pandas, sep="\t").to_dict("records") == expected  # what pandas reads back


def test_a_tsv_is_quoted_only_where_all_of_it_reads_as_quoted(tmp_path: Path) -> None:
    # every quote-opened field closes as CSV would: quoted, as pandas reads it (the enclosing quotes go)
    quoted = write(tmp_path / "quoted.tsv", 'text\tlabel\n"I loved it"\tpos\nsay "hi" now\tneg\n')
    assert [row["text"] for row in read_file(quoted, stream=True)] == ["I loved it", 'say "hi" now']
    # one field opens a quote that CSV would not close: the whole file is linear, every quote is text
    linear = write(tmp_path / "linear.tsv", quoted.read_text() + '"great" he said\tpos\n')
    assert [row["text"] for row in read_file(linear)] == ['"I loved it"', 'say "hi" now', '"great" he said']


def test_a_utf16_or_utf32_file_with_its_byte_order_mark_reads_as_utf8_would(tmp_path: Path) -> None:
    # Excel's "Unicode Text" is a UTF-16 LE tab-separated file with CRLF; Windows PowerShell's > writes UTF-16 too
    text = "text\tlabel\r\n良い映画\tpos\r\nbad \"movie\"\tneg\r\n"
    expected = [{"text": "良い映画", "label": "pos"}, {"text": 'bad "movie"', "label": "neg"}]
    for encoding in ("utf-16", "utf-16-be", "utf-32"):
        path = tmp_path / f"{encoding}.tsv"
        path.write_bytes(text.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + text.encode(encoding))
        assert list(read_file(path)) == list(read_file(path, stream=True)) == list(iter_rows(path)) == expected
    with pytest.raises(DataError, match="cannot decode byte 0xff as utf-8"):  # an encoding given is the one used
        list(read_file(tmp_path / "utf-16.tsv", encoding="utf-8"))


def test_whole_and_streamed_readers_give_the_same_rows(tmp_path: Path) -> None:
    cases = {
        "a.tsv": '\ufefftext\tlabel\r\n"q" here\tpos\r\n  \r\nshort\r\nx\t"y"\r\n',
        "b.csv": 'text,label\n"a, quoted",pos\n\n"multi\nline",neg\nshort\n',
        "c.jsonl": '{"text": "a", "label": NaN}\n\n{"text": "b", "label": 1}\n',
    }
    for name, text in cases.items():
        path = write(tmp_path / name, text)
        assert list(read_file(path)) == list(read_file(path, stream=True)) == list(iter_rows(path)), name



def test_a_crlf_inside_a_quoted_cell_is_lf_in_both_readers(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes(b'text,label\r\n"two\r\nlines",pos\r\n"old mac\rline",neg\r\n')
    expected = [{"text": "two\nlines", "label": "pos"}, {"text": "old mac\nline", "label": "neg"}]
    assert list(read_file(path)) == list(read_file(path, stream=True)) == list(iter_rows(path)) == expected

# --- 3. labels differ only by surrounding whitespace ----------------------------------------------


def test_labels_are_stripped_with_one_warning(registry, backbone_dir, tmp_path: Path, caplog) -> None:
    rows = [{"text": t, "label": lab + " " if i % 3 == 0 else lab} for i, (t, lab) in enumerate(ROWS)]
    with caplog.at_level(logging.WARNING):
        result = tasuki.train("template-classify", rows, backbone=backbone_dir, output_dir=tmp_path / "m", max_steps=1,
                              checkpoints=False, progress=False, eval_split=0)
    model = tasuki.load(result.output_dir)
    assert model.task.labels == ["neg", "pos"]
    stripped = [r.getMessage() for r in caplog.records if "surrounding whitespace" in r.getMessage()]
    assert len(stripped) == 1 and "14 labels" in stripped[0], stripped
    assert model.predict("good movie")["label"] in ("neg", "pos")
    metrics = model.evaluate(rows)  # the padded labels are the same classes in evaluation too
    assert 0 <= metrics["accuracy"] <= 1


@pytest.mark.integration  # needs the sentiment and classify plugins (tox env 'all')
def test_sentiment_labels_are_stripped(caplog, monkeypatch: pytest.MonkeyPatch) -> None:
    from datasets import Dataset

    from tasuki.registry import Registry

    monkeypatch.setenv("TASUKI_PLUGINS", "classify,sentiment")  # the preset, built on the installed classify
    data = Dataset.from_list([{"text": f"t{i}", "label": lab} for i, lab in
                              enumerate(["negative", "negative ", " positive", "positive", "neutral"])])
    task = Registry().task("sentiment")(windows=False)  # windows=False: the stand-in tokenizer has no windows
    with caplog.at_level(logging.WARNING):
        task.validate(data, "train.csv", with_targets=True)
        task.fit(data)
    assert task.labels == ["negative", "neutral", "positive"]
    assert sum("surrounding whitespace" in r.getMessage() for r in caplog.records) == 1
    task.validate(data, "eval.csv", with_targets=True)  # the padded labels are known labels
    assert task.encode({"text": ["a", "b"], "label": ["negative ", "positive"]}, _Tokenizer(), 8)["labels"] == [0, 2]


class _Tokenizer:
    def __call__(self, texts: list[str], *_: Any, **__: Any) -> dict[str, list]:
        return {"input_ids": [[1, 2] for _ in texts], "attention_mask": [[1, 1] for _ in texts]}


# --- 4. a file that cannot be read --------------------------------------------------------------


@pytest.fixture
def unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data file that open() refuses (chmod 000 does not stop root, who runs these tests: open is refused too)."""
    path = good_csv(tmp_path)
    path.chmod(0)
    real_open = builtins.open

    def guarded(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, Path)) and Path(file).resolve() == path.resolve():
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io, "open", guarded)
    yield path
    path.chmod(0o644)


@pytest.mark.parametrize("extra", [(), ("--streaming",)])
def test_an_unreadable_file_is_one_line(extra: tuple[str, ...], unreadable: Path, registry, backbone_dir,
                                        tmp_path: Path) -> None:
    assert_clear_error(train_args(unreadable, tmp_path / "out", backbone_dir, *extra),
                       f"cannot read {unreadable}: permission denied")


def test_an_unreadable_file_to_predict_is_one_line(unreadable: Path) -> None:
    with pytest.raises(DataError, match=f"cannot read {unreadable}: permission denied"):
        next(iter_rows(unreadable))  # what predict --output and --streaming read through


# --- 5. an eval split that leaves nothing to train on --------------------------------------------


def test_an_eval_split_that_holds_out_everything_is_refused(registry, backbone_dir, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert_clear_error(train_args(good_csv(tmp_path), out, backbone_dir, "--eval-split", "0.99"),
                       "'eval_split': 0.99 holds out all 40 examples; allowed for 40 examples: a number >= 0 and <= 0.975")
    assert not out.exists()


# --- 6. adapt --held-out outside 0..1 -----------------------------------------------------------


@pytest.mark.integration  # needs the mlm plugin (tox env 'all')
@pytest.mark.parametrize("value", ["1.0", "-0.5", "0"])
def test_adapt_held_out_out_of_range(value: str, tmp_path: Path) -> None:
    from tasuki_mlm.cli import adapt_command

    corpus = write(tmp_path / "corpus.txt", "one text here\nanother text there\n")
    assert_clear_error((corpus, "--output", tmp_path / "out", "--held-out", value),
                       f"'held_out' (--held-out): {float(value)!r} is not allowed; allowed: a number > 0 and < 1",
                       command=adapt_command)
    assert not (tmp_path / "out").exists()


# --- 7. a pandas DataFrame as data ---------------------------------------------------------------


def test_a_dataframe_is_data(registry, backbone_dir, tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame([{"text": t, "label": lab} for t, lab in ROWS], index=range(100, 140))
    result = tasuki.train("template-classify", frame, backbone=backbone_dir, output_dir=tmp_path / "m", max_steps=1,
                          checkpoints=False, progress=False, eval_split=0)
    model = tasuki.load(result.output_dir)
    assert model.task.labels == ["neg", "pos"]
    assert 0 <= model.evaluate(frame)["accuracy"] <= 1
    data, source = tasuki.data.load_data(frame)
    assert data.column_names == ["text", "label"] and len(data) == 40 and source == "DataFrame"
    mixed = pd.DataFrame({"text": ["a", "b", "c"], "label": [1, None, "pos"]})
    with pytest.raises(DataError, match=r"DataFrame: column 'label' holds a number in row 1 \(1\) and a text in row 3"):
        tasuki.data.load_data(mixed)


def test_data_of_another_type_is_one_line(registry) -> None:
    with pytest.raises(DataError, match=r"data: expected a file name, a Hub dataset name, .*got a dict"):
        tasuki.data.load_data({"text": ["a"], "label": ["pos"]})


# --- 8. columns given as a list -----------------------------------------------------------------


def test_columns_as_a_list_is_refused(registry, backbone_dir, tmp_path: Path) -> None:
    with pytest.raises(TasukiError, match=r"'columns': expected a mapping \{task column: your column\}.*got a list"):
        tasuki.train("template-classify", good_csv(tmp_path), columns=["text", "label"], backbone=backbone_dir,
                     output_dir=tmp_path / "m", max_steps=1, checkpoints=False, progress=False)
    assert not (tmp_path / "m").exists()
    with pytest.raises(TasukiError, match=r"'columns': .*got a str"):
        tasuki.data.load_data(good_csv(tmp_path), toy_plugin.TemplateClassificationTask, columns="text")


# --- 9. a column mapping that names no column of the task ------------------------------------------


def test_a_misspelt_task_column_in_a_mapping_is_refused_not_ignored(registry, backbone_dir, tmp_path: Path) -> None:
    # before: --column lable=topic was dropped, and the model trained on the file's own label column (exit 0)
    data = write(tmp_path / "topics.csv", "text,label,topic\n" + "".join(
        f"{t},{lab},{'a' if lab == 'pos' else 'b'}\n" for t, lab in ROWS))
    expected = "--column lable=topic (Python: columns={'lable': 'topic'}): task 'template-classify' has no column " \
               "'lable'; allowed: text, label"
    assert_clear_error(train_args(data, tmp_path / "m", backbone_dir, "--column", "lable=topic"), expected)
    assert not (tmp_path / "m").exists()
    code, err = invoke(*train_args(data, tmp_path / "m", backbone_dir, "--column", "label=topic"))
    assert code == 0, err
    for args in (("--input", data, "--output", tmp_path / "p.jsonl"), ("--input", data)):
        assert_clear_error(("predict", tmp_path / "m", *args, "--column", "txt=text"), "task 'template-classify' "
                           "has no column 'txt'; allowed: text, label")
    assert not (tmp_path / "p.jsonl").exists() and not (tmp_path / "p.jsonl.partial").exists()
    # a refusal found after the part file is opened leaves no empty part behind either
    assert_clear_error(("predict", tmp_path / "m", "--input", write(tmp_path / "none.csv", "text\n"), "--output",
                        tmp_path / "p.jsonl"), "none.csv: no rows to predict")
    assert sorted(p.name for p in tmp_path.glob("p.*")) == []
    with pytest.raises(DataError, match="has no column 'lable'"):
        tasuki.evaluate(tmp_path / "m", data, columns={"lable": "topic"})


def test_a_column_that_first_appears_in_a_later_row_is_kept(tmp_path: Path) -> None:
    # datasets' from_list takes the first row's keys: a JSONL whose second row adds a column lost it silently
    from tasuki.data import rows_to_dataset

    path = write(tmp_path / "mixed.jsonl", '{"text": "good movie"}\n{"text": "bad movie", "label": "neg"}\n')
    rows = list(iter_rows(path))
    for built in (rows_to_dataset(rows, "rows"), rows_to_dataset(rows, "rows", content_fingerprint=False),
                  tasuki.data.load_data(path)[0]):
        assert built.column_names == ["text", "label"] and built["label"] == [None, "neg"]


def test_two_task_columns_on_one_of_yours_and_empty_frames_are_refused(registry, backbone_dir, tmp_path: Path) -> None:
    import pandas

    from tasuki_template.plugin import TemplateClassificationTask

    data = write(tmp_path / "r.csv", "review,stars\n" + "".join(f"{t},{lab}\n" for t, lab in ROWS))
    # before: "missing column 'text' ... Map yours with --column text=stars", advice that trains on the labels
    with pytest.raises(DataError, match=r"--column: 'text' and 'label' both map to your column 'review'"):
        tasuki.data.load_data(data, TemplateClassificationTask, columns={"text": "review", "label": "review"})
    empty = pandas.DataFrame({"text": [], "label": []})  # before: an IndexError from the tokenizer
    for source in (empty, [], tasuki.data.rows_to_dataset([{"text": "a"}], "rows").select([])):
        with pytest.raises(DataError, match="no examples"):
            tasuki.data.load_data(source, TemplateClassificationTask)
