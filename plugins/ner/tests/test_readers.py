"""CoNLL reading: separators, CRLF, blank and whitespace-only lines, -DOCSTART-, line numbers."""

from __future__ import annotations

import pytest

from tasuki.errors import DataError
from tasuki_ner.corpora import english, hironsan
from tasuki_ner.readers import read_conll, write_conll


def test_reads_tabs_spaces_crlf_and_docstart(tmp_path):
    text = "-DOCSTART- -X- -X- O\r\n\r\nEU NNP B-NP B-ORG\r\nrejects VBZ B-VP O\r\n   \r\n\u3000\tI-ART\nBerlin\tB-LOC\n\n\n"
    rows = read_conll(tmp_path / "a.conll", text)
    assert rows == [
        {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"], "line": 3},
        {"tokens": ["\u3000", "Berlin"], "tags": ["I-ART", "B-LOC"], "line": 6},
    ]


def test_a_line_without_tag_names_file_and_line(tmp_path):
    with pytest.raises(DataError, match=r"a\.conll: line 3: expected a token and a tag"):
        read_conll(tmp_path / "a.conll", "Obama\tB-PER\n\nParis\n")


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no sentences"):
        read_conll(tmp_path / "a.conll", "\n  \n")


def test_write_then_read_round_trip(tmp_path):
    rows = english("test")[:5]
    path = write_conll(rows, tmp_path / "x.conll")
    again = read_conll(path, path.read_text(encoding="utf-8"))
    assert [(r["tokens"], r["tags"]) for r in again] == [(r["tokens"], r["tags"]) for r in rows]


def test_packaged_data_sets():
    assert len(english("train")) == 200 and len(english("test")) == 90
    train, test = hironsan("train"), hironsan("test")
    assert len(train) == 400 and len(test) == 100
    # a fixed split: no sentence in both, and the same split every time
    key = lambda r: "".join(r["tokens"])  # noqa: E731
    assert not {key(r) for r in train} & {key(r) for r in test}
    assert [key(r) for r in hironsan("test")] == [key(r) for r in test]
    assert {t[2:] for r in train for t in r["tags"] if t != "O"} >= {"PSN", "LOC", "ORG", "DAT"}
