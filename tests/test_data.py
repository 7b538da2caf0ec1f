"""Reading the files users bring, and clear errors for bad data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasuki.data import load_data, read_text
from tasuki.errors import DataError
from tasuki_template.plugin import TemplateClassificationTask as Toy


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_csv_with_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "\ufefftext,label\r\ngood,pos\r\n   \r\n\r\nbad,neg\r\n".encode())
    data, _ = load_data(path, Toy)
    assert data["text"] == ["good", "bad"] and data["label"] == ["pos", "neg"]


def test_jsonl_tsv_txt(tmp_path: Path) -> None:
    jsonl = write(tmp_path / "d.jsonl", b'{"text": "good", "label": "pos"}\n\n  \n{"text": "bad", "label": "neg"}\n')
    assert len(load_data(jsonl, Toy)[0]) == 2
    tsv = write(tmp_path / "d.tsv", b"text\tlabel\ngood\tpos\n")
    assert load_data(tsv, Toy)[0]["label"] == ["pos"]
    # each line as written, CRLF ends removed, a blank line no text: stripping a full-width space moved NER offsets
    txt = write(tmp_path / "d.txt", "one\r\n\n two \n \u3000\n\u3000田中\n".encode())
    assert load_data(txt, Toy, with_targets=False)[0]["text"] == ["one", " two ", "\u3000田中"]


@pytest.mark.parametrize("encoding, named", [("euc_jp", "EUC-JP Japanese: pass --encoding euc_jp"),
                                            ("cp932", "Shift-JIS (cp932) Japanese: pass --encoding cp932"),
                                            ("cp1252", "Western European (cp1252, a superset of latin-1): pass "
                                                       "--encoding cp1252")])
def test_a_file_that_does_not_decode_is_told_the_encoding_it_reads_as(tmp_path: Path, encoding: str,
                                                                       named: str) -> None:
    # an EUC-JP file was told to try latin-1, which decodes anything: the model trained on mojibake
    japanese = "今日はとても良い天気です,良い\n映画はつまらなかった,悪い\n"
    texts = japanese if encoding != "cp1252" else "crème brûlée,pos\nnaïve,neg\n"
    path = write(tmp_path / "d.csv", ("text,label\n" + texts).encode(encoding))
    with pytest.raises(DataError, match="cannot decode") as error:
        load_data(path, Toy)
    assert str(error.value).endswith(f"It reads as {named} (Python: encoding='{encoding}')")
    assert load_data(path, Toy, encoding=encoding)[0]["text"][1] == texts.split("\n")[1].split(",")[0]


def test_latin1_fails_clearly_then_reads_with_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "text,label\ncaf\u00e9 ok,pos\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"d.csv: line 2: cannot decode byte 0xe9.*latin-1"):
        load_data(path, Toy)
    data, _ = load_data(path, Toy, encoding="latin-1")
    assert data["text"] == ["caf\u00e9 ok"]


def test_missing_column_names_file_and_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", b"review,label\ngood,pos\n")
    with pytest.raises(DataError, match=r"d.csv: missing column 'text'.*found columns: review, label.*--column text="):
        load_data(path, Toy)
    data, _ = load_data(path, Toy, columns={"text": "review"})
    assert data["text"] == ["good"]


def test_empty_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty file"):
        load_data(write(tmp_path / "e.csv", b""), Toy)
    with pytest.raises(DataError, match="no examples"):
        load_data(write(tmp_path / "e.jsonl", b"\n \n"), Toy)
    with pytest.raises(DataError, match=r"unknown file type '.xls'; tasuki reads .*\.xlsx.* a spreadsheet: save it as "
                                        r"\.xlsx or as CSV"):
        load_data(write(tmp_path / "e.xls", b"x"), Toy)
    with pytest.raises(DataError, match=r"unknown file type '.docx'; tasuki reads [^;]*$"):  # no spreadsheet hint
        load_data(write(tmp_path / "e.docx", b"x"), Toy)
    with pytest.raises(DataError, match="no such file"):
        load_data(tmp_path / "missing.csv", Toy)


def test_bad_json_line_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"d.jsonl: line 2: invalid JSON"):
        load_data(write(tmp_path / "d.jsonl", b'{"text": "a", "label": "x"}\n{oops\n'), Toy)


def test_empty_text_and_unknown_label_name_row_and_column() -> None:
    task = Toy(labels=["neg", "pos"])
    data, _ = load_data([{"text": "fine", "label": "pos"}, {"text": "  ", "label": "neg"}], Toy)
    with pytest.raises(DataError, match=r"rows: row 2, column 'text': empty text"):
        task.validate(data, "rows", with_targets=True)
    for invisible in ("\u200b", "\x00", "\ufeff\u3000"):  # zero-width, NUL, BOM: a tokenizer reads nothing in them
        data, _ = load_data([{"text": "fine", "label": "pos"}, {"text": invisible, "label": "neg"}], Toy)
        with pytest.raises(DataError, match=r"rows: row 2, column 'text': empty text \(only invisible characters"):
            task.validate(data, "rows", with_targets=True)
    data, _ = load_data([{"text": "\u200bfine", "label": "pos"}], Toy)
    task.validate(data, "rows", with_targets=True)  # a text with a word in it is one
    data, _ = load_data([{"text": "fine", "label": "pos"}, {"text": "meh", "label": "mixed"}], Toy)
    with pytest.raises(DataError, match=r"row 2, column 'label': unknown label 'mixed'"):
        task.validate(data, "rows", with_targets=True)


def test_mixed_types_in_a_column_fail_clearly(tmp_path: Path) -> None:
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": None}, {"text": "c", "label": "pos"}]
    named = r"column 'label' holds a number in row 1 \(1\) and a text in row 3 \('pos'\): a column keeps one type"
    with pytest.raises(DataError, match=named):
        load_data(rows, Toy)
    lines = write(tmp_path / "d.jsonl", b'{"text": "a", "label": 1}\n{"text": "b", "label": null}\n'
                                       b'{"text": "c", "label": "pos"}\n')
    for stream in (False, True):
        with pytest.raises(DataError, match=named):
            load_data(lines, Toy, stream=stream)


def test_read_text_normalises_line_ends(tmp_path: Path) -> None:
    assert read_text(write(tmp_path / "x.txt", b"a\r\nb\rc")) == "a\nb\nc"


def test_language_is_detected_from_every_text_in_the_rows() -> None:
    from datasets import Dataset

    from tasuki.data import detect_language
    from tasuki.japanese import japanese_share

    assert detect_language(Dataset.from_list([{"text": "The film was great.", "label": "positive"}])) == "en"
    assert detect_language(Dataset.from_list([{"text": "この映画はiPhoneで観ても最高だった。", "label": "positive"}])) == "ja"
    ner = Dataset.from_list([{"tokens": ["東京", "に", "住む"], "tags": ["B-LOC", "O", "O"]}])
    assert detect_language(ner) == "ja"  # lists of strings count too
    assert japanese_share("2024 / 123") == 0.0  # no letters at all
    # English texts with Japanese label names, or a Japanese column the task does not read, were called Japanese:
    # the multilingual backbone and MeCab for English texts
    rows = Dataset.from_list([{"text": "The film was great.", "label": "ポジティブ", "source": "アンケート"}] * 3)
    assert detect_language(rows) == "ja" and detect_language(rows, columns=("text",)) == "en"


def test_language_is_detected_over_the_whole_file_and_a_mixed_one_is_said(caplog) -> None:
    """A file sorted by language is not called by its first rows; a fifth of Japanese rows in English data is
    worth a warning (the English backbone reads them poorly)."""
    import logging

    from datasets import Dataset

    from tasuki.data import detect_language, japanese_share_of_rows
    from tasuki.training.phases import _language

    english = [{"text": f"review {i}: the film was fine", "label": "positive"} for i in range(300)]
    japanese = [{"text": f"この映画は最高だった。{i}", "label": "positive"} for i in range(700)]
    assert detect_language(Dataset.from_list(english + japanese)) == "ja"  # the first 200 rows are English
    mixed = Dataset.from_list(english + japanese[:75])
    assert japanese_share_of_rows(mixed) == pytest.approx(0.2, abs=0.01)
    with caplog.at_level(logging.INFO, logger="tasuki"):
        assert _language(None, mixed, "mixed.csv", ("text",)) == "en"
    assert "20% of the rows of mixed.csv are Japanese" in caplog.text and "--lang ja" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tasuki"):
        _language(None, Dataset.from_list(english), "en.csv", ("text",))
    assert "Japanese" not in caplog.text


def test_a_large_file_streams_into_the_same_rows(tmp_path, monkeypatch) -> None:
    import tasuki.data.read as data

    path = tmp_path / "big.csv"
    path.write_text("text,label\r\n" + "".join(f"text number {i},{'pos' if i % 2 else 'neg'}\r\n" for i in range(500)),
                    encoding="utf-8")
    monkeypatch.setenv("TASUKI_CACHE", str(tmp_path / "cache"))
    whole = data.read_file(path)
    monkeypatch.setattr(data, "STREAM_ABOVE", 100)  # this file now counts as large
    streamed = data.read_file(path)
    assert streamed.to_list() == whole.to_list()
    assert any((tmp_path / "cache").rglob("*.arrow"))  # it went through the stream reader's cache


def test_a_stratified_hold_out_keeps_classes_in_proportion_and_a_lone_row_in_training() -> None:
    from datasets import Dataset

    from tasuki.data import hold_out

    rows = [{"text": f"a {i}", "label": "A"} for i in range(100)] + [{"text": f"b {i}", "label": "B"} for i in range(
        100)] + [{"text": "c", "label": "C"}] + [{"text": f"d {i}", "label": "D"} for i in range(4)]
    data = Dataset.from_list(rows)
    strata = list(data["label"])
    train, held = hold_out(data, 0.1, seed=3, strata=strata)
    # 10 % of each class to the nearest row (D: 0.4 -> 0); C's one row stays in training
    assert sorted(held["label"]) == ["A"] * 10 + ["B"] * 10
    assert sorted(set(train["label"])) == ["A", "B", "C", "D"] and len(train) + len(held) == len(data)
    assert sorted([*train["text"], *held["text"]]) == sorted(data["text"])
    again, held_again = hold_out(data, 0.1, seed=3, strata=strata)
    assert list(held_again["text"]) == list(held["text"]) and list(again["text"]) == list(train["text"])  # the seed decides
    assert list(hold_out(data, 0.1, seed=4, strata=strata)[1]["text"]) != list(held["text"])
    # every key rounds to none: one row of the largest is held out, as a plain split would hold one
    small = Dataset.from_list(rows[:3] + rows[100:102] + rows[200:201])
    _, one = hold_out(small, 0.1, seed=0, strata=list(small["label"]))
    assert len(one) == 1 and one["label"][0] in {"A", "B"}
    # one row a class: nothing can be held out without losing a class
    lone = Dataset.from_list([{"text": "x", "label": "X"}, {"text": "y", "label": "Y"}, {"text": "z", "label": "Z"}])
    assert len(hold_out(lone, 0.3, seed=0, strata=list(lone["label"]))[1]) == 0


def test_an_encoding_for_data_that_is_not_decoded_is_refused(tmp_path: Path) -> None:
    import pandas as pd

    from tasuki.data import iter_rows, read_file
    from tasuki.settings import SettingError

    frame = pd.DataFrame({"text": ["caf\u00e9"], "label": ["pos"]})
    parquet = tmp_path / "d.parquet"
    frame.to_parquet(parquet)
    refusal = r"^'encoding' \('latin-1'\) is for text files \(csv, tsv, jsonl, json, txt\); "
    for read in (lambda: load_data(parquet, Toy, encoding="latin-1"), lambda: read_file(parquet, encoding="latin-1"),
                 lambda: list(iter_rows(parquet, encoding="latin-1"))):
        with pytest.raises(SettingError, match=refusal + r".*d\.parquet is parquet, which records its own encoding"):
            read()
    for source, kind in ((frame, "DataFrame"), ([{"text": "x", "label": "pos"}], "list")):
        with pytest.raises(SettingError, match=refusal + f"the data is a {kind}, already decoded: leave encoding out"):
            load_data(source, Toy, encoding="latin-1")
    with pytest.raises(SettingError, match=refusal + "someone/reviews is no local file but a Hub dataset name"):
        load_data("someone/reviews", Toy, encoding="latin-1")  # refused before any network
    assert load_data(parquet, Toy)[0]["text"] == ["caf\u00e9"]


def test_encoding_goes_to_the_text_files_of_a_run(tmp_path: Path) -> None:
    from tasuki.data import encodings

    csv = write(tmp_path / "d.csv", b"text,label\n")
    parquet, xlsx = write(tmp_path / "e.parquet", b""), write(tmp_path / "e.xlsx", b"")
    assert encodings("latin-1", [csv, parquet], Toy) == ["latin-1", None]
    assert encodings("latin-1", [xlsx, csv], Toy) == [None, "latin-1"]
    assert encodings("latin-1", [csv, None], Toy) == ["latin-1", None]
    assert encodings("latin-1", [parquet, None], Toy) == ["latin-1", "latin-1"]  # none is text: load_data refuses it
    assert encodings(None, [csv, parquet], Toy) == [None, None]


def test_train_reads_a_latin1_csv_beside_a_parquet_eval_set_and_refuses_a_lone_parquet(
        registry, backbone_dir: str, tmp_path: Path) -> None:
    import pandas as pd

    from tasuki.testing import run_cli

    rows = [("caf\u00e9 good", "pos"), ("na\u00efve bad", "neg")] * 4
    csv = write(tmp_path / "train.csv", ("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows)).encode("latin-1"))
    parquet = tmp_path / "eval.parquet"
    pd.DataFrame(rows, columns=["text", "label"]).to_parquet(parquet)
    common = ("--backbone", backbone_dir, "--max-steps", "1", "--batch-size", "8", "--no-checkpoints")
    code, _, err = run_cli("train", "template-classify", "--data", csv, "--eval-data", parquet, "--encoding", "latin-1",
                           "--output", tmp_path / "model", *common)
    assert code == 0, err
    code, _, err = run_cli("train", "template-classify", "--data", parquet, "--encoding", "latin-1",
                           "--output", tmp_path / "refused", *common)
    assert code == 2 and "'encoding' ('latin-1') is for text files" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "refused").exists()


def test_rows_that_are_not_dicts_are_refused_naming_the_row() -> None:
    # a list of (text, label) tuples was an AttributeError from deep inside the reader
    with pytest.raises(DataError, match=r"^rows: row 1 is a tuple, not a row of named columns; give each row as a dict"):
        load_data([("good movie", "pos"), ("bad movie", "neg")], Toy)
    with pytest.raises(DataError, match=r"^rows: row 2 is a str"):
        load_data([{"text": "good", "label": "pos"}, "bad"], Toy)


def test_json_written_by_tasuki_is_strict_json(tmp_path: Path) -> None:
    # a NaN metric was the bare token NaN (JavaScript and strict parsers refuse it); a float32 score was a text
    import json

    import numpy as np

    from tasuki.files import atomic_write_json

    atomic_write_json(tmp_path / "m.json", {"pearson": float("nan"), "s": [np.float32(0.5), float("-inf")], "n": 3})
    assert json.loads((tmp_path / "m.json").read_text(), parse_constant=lambda c: pytest.fail(c)) == {
        "pearson": None, "s": [0.5, None], "n": 3}


def test_repeated_inputs_and_their_conflicting_targets_are_counted() -> None:
    from datasets import Dataset

    from tasuki.data.columns import repeated_inputs

    rows = [{"text": "a", "label": "pos"}, {"text": "b", "label": "neg"}, {"text": "a", "label": "pos"},
            {"text": "a", "label": "neg"}, {"text": "b", "label": "neg"}]
    assert repeated_inputs(Dataset.from_list(rows), ("text",), "label") == (3, 1)  # a twice more (once as neg), b
    assert repeated_inputs(Dataset.from_list(rows[:2]), ("text",), "label") == (0, 0)
