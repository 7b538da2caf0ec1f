"""CoNLL-style files: one token per line with its tag last, a blank line between sentences.

Columns are tab-separated when the line has a tab (so a token may be a space, as the
full-width spaces of the hironsan corpus are), otherwise whitespace-separated (CoNLL-2003:
``EU NNP B-NP B-ORG``). ``-DOCSTART-`` lines are skipped; CRLF and whitespace-only lines are
sentence breaks. Each row keeps the line number of its first token, so that later checks
(:meth:`tasuki_ner.task.NerTask.validate`) can name the line of a bad tag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasuki.plugin import DataError

CONLL_SUFFIXES = (".conll", ".conllu", ".iob", ".iob2", ".bio", ".bioes", ".iobes", ".ner")


def parse_conll_line(line: str) -> tuple[str, str] | None:
    """``(token, tag)`` of one line, or ``None`` for a sentence break; raises ``ValueError`` if no tag."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return None
    fields = line.split("\t") if "\t" in line else line.split()
    fields = [f for f in fields if f != ""] if "\t" in line else fields
    if len(fields) < 2:
        raise ValueError(f"expected a token and a tag separated by a tab or spaces, got {line!r}")
    return fields[0], fields[-1].strip()


def read_conll(path: Path | str, text: str) -> list[dict[str, Any]]:
    """Rows ``{"tokens": [...], "tags": [...], "line": N}`` from the decoded text of a CoNLL file.

    :raises DataError: a line without a tag (names the file and line).
    """
    rows: list[dict[str, Any]] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0

    def flush() -> None:
        if tokens:
            rows.append({"tokens": list(tokens), "tags": list(tags), "line": first_line})
        tokens.clear()
        tags.clear()

    # split on "\n" only: str.splitlines() would also break lines at U+2028, \x1c and friends
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("-DOCSTART-"):
            flush()
            continue
        try:
            parsed = parse_conll_line(line)
        except ValueError as exc:
            raise DataError(f"{path}: line {number}: {exc}") from None
        if parsed is None:
            flush()
            continue
        if not tokens:
            first_line = number
        tokens.append(parsed[0])
        tags.append(parsed[1])
    flush()
    if not rows:
        raise DataError(f"{path}: no sentences found (expected 'token<TAB>tag' lines, blank lines between sentences)")
    return rows


def write_conll(rows: list[dict[str, Any]], path: Path | str) -> Path:
    """Write ``{"tokens", "tags"}`` rows as a tab-separated CoNLL file (UTF-8); returns the path."""
    path = Path(path)
    lines = []
    for row in rows:
        lines += [f"{token}\t{tag}" for token, tag in zip(row["tokens"], row["tags"])]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
