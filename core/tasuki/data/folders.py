"""A folder of text files: each file one text; in label folders, its folder's name its label.

A folder of label folders is the layout of scikit-learn's ``load_files``, 20 Newsgroups and BBC News
(``bbc/business/001.txt``): ``--data bbc`` reads it as rows ``{"text", "label", "file"}`` (``file``: the path
under the folder, so a prediction can be traced to its file). A folder of text files alone (``letters/001.txt``)
is unlabelled: rows ``{"text", "file"}``, for ``predict --input`` (training on it is refused by
:func:`tasuki.data.load_data`, which knows it needs labels). Files are decoded as any text file (``encoding``; a
BOM, CRLF), their text stripped of the whitespace at its ends. Read whole, in order: folders by name, files by
name. Nothing is skipped silently but hidden entries (``.DS_Store``, ``.git``): files beside label folders, a
folder inside a label folder, an empty file, an empty folder or an empty label folder is refused naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tasuki.data.formats import read_text
from tasuki.errors import DataError


def folder_rows(path: Path, encoding: str | None = None) -> Iterator[dict[str, str]]:
    """The rows of the text files under ``path``: labelled by their folders, or unlabelled (module docstring)."""
    entries = _visible(path)
    labels = [entry for entry in entries if entry.is_dir()]
    loose = [entry.name for entry in entries if not entry.is_dir()]
    if not entries:
        raise DataError(f"{path}: an empty folder; tasuki reads a file (csv, tsv, jsonl, json, parquet, txt, xlsx), "
                        f"a folder of text files, or a folder of label folders holding text files")
    if not labels:  # unlabelled texts, one a file
        yield from ({"text": _text(file, encoding), "file": file.name} for file in entries)
        return
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
            yield {"text": _text(file, encoding), "label": folder.name, "file": file.relative_to(path).as_posix()}


def unlabelled_refused(path: Path) -> DataError:
    """The refusal of a folder of text files without label folders as training or evaluation data."""
    return DataError(f"{path}: text files without label folders, so no labels to train or evaluate on: put each "
                     f"file in a folder named after its label ({path.name}/LABEL/FILE.txt); predict --input "
                     f"reads this folder as it is")


def _text(file: Path, encoding: str | None) -> str:
    text = read_text(file, encoding).strip()
    if not text:
        raise DataError(f"{file}: an empty text file")
    return text


def _visible(folder: Path) -> list[Path]:
    """The entries of ``folder`` by name, hidden ones (``.DS_Store``, ``.git``) left out."""
    return sorted((entry for entry in folder.iterdir() if not entry.name.startswith(".")), key=lambda p: p.name)
