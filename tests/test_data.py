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
    txt = write(tmp_path / "d.txt", b"one\n\n two \n")
    assert load_data(txt, Toy, with_targets=False)[0]["text"] == ["one", "two"]


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
    data, _ = load_data([{"text": "fine", "label": "pos"}, {"text": "meh", "label": "mixed"}], Toy)
    with pytest.raises(DataError, match=r"row 2, column 'label': unknown label 'mixed'"):
        task.validate(data, "rows", with_targets=True)


def test_mixed_types_in_a_column_fail_clearly() -> None:
    with pytest.raises(DataError, match="one type"):
        load_data([{"text": "a", "label": 1}, {"text": "b", "label": "pos"}], Toy)


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
        assert _language(None, mixed, "mixed.csv") == "en"
    assert "20% of the rows of mixed.csv are Japanese" in caplog.text and "--lang ja" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tasuki"):
        _language(None, Dataset.from_list(english), "en.csv")
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
