"""A folder of label folders: each file one text, its folder's name its label.

The layout of scikit-learn's ``load_files``, 20 Newsgroups and BBC News (``bbc/business/001.txt``): ``--data
bbc`` reads it as rows ``{"text", "label", "file"}`` (``file``: the path under the folder, so a prediction can be
traced to its file). Files are decoded as any text file (``encoding``; a BOM, CRLF), their text stripped of
the whitespace at its ends. Read whole, in order: label folders by name, files by name. Nothing is skipped
silently but hidden entries (``.DS_Store``, ``.git``): a file outside the label folders, a folder inside one,
an empty file or an empty label folder is refused naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tasuki.data.formats import read_text
from tasuki.errors import DataError


def folder_rows(path: Path, encoding: str | None = None) -> Iterator[dict[str, str]]:
    """The rows of the label folders under ``path`` (module docstring)."""
    entries = _visible(path)
    labels = [entry for entry in entries if entry.is_dir()]
    if not labels:
        raise DataError(f"{path}: a folder without label folders; tasuki reads a file (csv, tsv, jsonl, json, "
                        f"parquet, txt, xlsx) or a folder of label folders, each holding one text file per example")
    loose = [entry.name for entry in entries if not entry.is_dir()]
    if loose:
        raise DataError(f"{path}: {loose[0]!r} lies outside the label folders ({', '.join(f.name for f in labels)}): "
                        f"put each text file in the folder of its label")
    for folder in labels:
        files = _visible(folder)
        if not files:
            raise DataError(f"{folder}: an empty label folder (no text file in it)")
        for file in files:
            if file.is_dir():
                raise DataError(f"{file}: a folder inside the label folder {folder.name!r}; a label folder holds "
                                f"text files only")
            text = read_text(file, encoding).strip()
            if not text:
                raise DataError(f"{file}: an empty text file")
            yield {"text": text, "label": folder.name, "file": file.relative_to(path).as_posix()}


def _visible(folder: Path) -> list[Path]:
    """The entries of ``folder`` by name, hidden ones (``.DS_Store``, ``.git``) left out."""
    return sorted((entry for entry in folder.iterdir() if not entry.name.startswith(".")), key=lambda p: p.name)
