"""Each file format tasuki reads, decoded once and the same way whether a file is read whole or streamed.

A UTF-8 BOM is dropped (a UTF-16 or UTF-32 one decodes the file so), CRLF becomes LF (inside a quoted
CSV cell too), whitespace-only lines are skipped, a ``.tsv`` is linear (quotes are text) unless it is
quoted as CSV (:func:`quoted_tsv`), a file that is not UTF-8 fails naming the byte and line, a header or
JSON object that names a key twice is refused. csv, tsv, jsonl and txt have one reader each, over an open
text handle (:func:`rows`): the streamed read (:func:`stream_rows`, flat memory) runs it over the file,
the whole-file read (``GENERIC_READERS``) collects it over the decoded text, so both give the same rows.
Header rows are read by :mod:`tasuki.data.headers`; json is read whole only (:mod:`tasuki.data.jsonfiles`);
parquet by pyarrow; Excel workbooks by :mod:`tasuki.data.spreadsheets`.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from tasuki.data.charsets import encoding_advice
from tasuki.data.headers import check_delimiter, delimiter, header_names, separator_line, title_hint
from tasuki.data.jsonfiles import json_row, read_json
from tasuki.errors import DataError

GENERIC_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".txt", ".xlsx", ".xlsm")
STREAMED = (".csv", ".tsv", ".jsonl", ".txt", ".parquet")
"""The formats :func:`stream_rows` reads row by row; the others are read whole."""
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a whole book in one cell is a text, not an error


# --- decoding ------------------------------------------------------------------------------------


def marked_encoding(head: bytes) -> str | None:
    """``utf-32`` or ``utf-16`` for text that opens with that encoding's byte-order mark (Excel's "Unicode
    Text" and Windows PowerShell's ``>`` write UTF-16), else ``None``: UTF-8, its BOM allowed. A mark is the
    file saying its encoding, not a guess."""
    if head[:4] in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE):
        return "utf-32"
    return "utf-16" if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else None


def read_text(path: str | Path, encoding: str | None = None) -> str:
    """Decode a text file: UTF-8 (BOM allowed) unless ``encoding`` is given or a UTF-16/32 BOM says otherwise
    (:func:`marked_encoding`); LF line ends."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from None
    encoding = encoding or marked_encoding(raw[:4])
    try:
        text = raw.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line}: cannot decode byte 0x{raw[exc.start]:02x} as {encoding or 'UTF-8'}. "
                        f"{encoding_advice(path, encoding)}") from None
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}") from None
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def unreadable(path: Path, exc: OSError) -> DataError:
    """``cannot read FILE: permission denied`` (the system's reason), for a file that exists but will not open."""
    return DataError(f"cannot read {path}: {(exc.strerror or str(exc)).lower()}")


def check_readable(path: Path) -> None:
    """:class:`DataError` for a file that cannot be opened (no read permission), before any reader opens it."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise unreadable(path, exc) from None


def csv_format(suffix: str, quoted: bool = False) -> dict[str, Any]:
    """``csv.reader`` arguments for ``.csv`` or ``.tsv``: a linear ``.tsv`` has no quoting (a ``"`` is text), a
    ``quoted`` one is read as CSV with tabs (see :func:`quoted_tsv`). Quoting is strict: a quote never closed
    (the rest of the file would be one field) or text after a closing quote is an error, not a guess."""
    if suffix == ".tsv" and not quoted:
        return {"delimiter": "\t", "quoting": csv.QUOTE_NONE}
    return {"delimiter": delimiter(suffix), "strict": True}


def quoted_tsv(handle: IO[str]) -> bool:
    """Whether a ``.tsv`` is quoted as CSV: some field starts with ``"`` and the whole file reads strictly as CSV
    with tabs. pandas, Excel, ``datasets`` and tasuki's own tables write a field holding a tab, a quote or a line
    break in quotes, its quotes doubled (``"say ""hi"" now"``); a linear TSV (GLUE's) holds quotes as text,
    and one of its fields opening a quote it does not close as CSV would (``"great" he said``) makes the file
    linear. Two passes over a seekable handle before its rows are read (the second only where a field starts
    with a quote); the handle is left where it was. Not seekable: linear."""
    if not handle.seekable():
        return False
    start = handle.tell()
    try:
        if not any(line.startswith('"') or '\t"' in line for line in handle):
            return False
        handle.seek(start)
        for _ in csv.reader(handle, delimiter="\t", strict=True):
            pass
        return True
    except csv.Error:
        return False
    finally:
        handle.seek(start)


# --- rows, one at a time -------------------------------------------------------------------------


def _decode_error(path: Path, encoding: str | None) -> DataError:
    """The error for a file that does not decode, naming the first bad byte and its line.

    Text files are decoded in blocks, so the line being read is not where the bad byte is:
    find it again here (only on this error path) with an incremental decoder.
    """
    decoder = codecs.getincrementaldecoder(encoding or "utf-8-sig")()
    line, bad = 1, 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 16):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = max(exc.start - (len(exc.object) - len(block)), 0)  # the decoder may hold earlier bytes
                line += block[:start].count(b"\n")
                bad = block[start] if start < len(block) else exc.object[exc.start]
                break
            line += block.count(b"\n")
    return DataError(f"{path}: line {line}: cannot decode byte 0x{bad:02x} as {encoding or 'UTF-8'}. "
                     f"{encoding_advice(path, encoding)}")


def _lines(handle: IO[str], path: Path, encoding: str | None) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` without the line end; decoding errors name the line."""
    try:
        for number, line in enumerate(handle, start=1):
            yield number, (line.lstrip("\ufeff") if number == 1 else line).rstrip("\r\n")
    except UnicodeDecodeError:  # only the handle's decoding: a consumer's errors are not raised in here
        raise _decode_error(path, encoding) from None


def _csv_rows(handle: IO[str], path: Path, suffix: str, encoding: str | None) -> Iterator[dict[str, Any]]:
    try:
        lines = _LastLine(handle)
        reader = csv.reader(lines, **csv_format(suffix, quoted=suffix == ".tsv" and quoted_tsv(handle)))
        records = _checked(reader, path)
        header = next(records, None)
        if header and separator_line(path, suffix, header):
            header = next(records, None)  # Excel's "sep=," line: the header is next
        if not header:
            raise DataError(f"{path}: empty file (no header row)")
        names = header_names(path, header)
        check_delimiter(path, suffix, names)
        count = 0  # rows read under the header
        for cells in records:
            if not any(cell.strip() for cell in cells):
                # one column: `""` or `"  "` is a text (empty, refused with its row), not a blank line to skip
                if len(cells) == 1 and len(names) == 1 and (cells == [""] or '"' in lines.last):
                    count += 1
                    yield {names[0]: cells[0]}
                continue  # a whitespace-only line
            beyond = [i for i in range(len(names), len(cells)) if cells[i].strip()]
            if beyond:  # blank fields past the header's are nothing (a spreadsheet's stray empty columns)
                raise DataError(f"{path}: line {reader.line_num}: a value in field {beyond[0] + 1}, past the "
                                f"{len(names)} the header names{title_hint(names, count == 0)}")
            # a short row gets None for its missing fields, as csv.DictReader gives them
            count += 1
            yield {name: cells[i] if i < len(cells) else None for i, name in enumerate(names)}
    except UnicodeDecodeError:
        raise _decode_error(path, encoding) from None


class _LastLine:
    """The lines of a text file, remembering the last one read (whether a blank-looking record was quoted)."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle, self.last = handle, ""

    def __iter__(self) -> _LastLine:
        return self

    def __next__(self) -> str:
        self.last = next(self.handle)
        return self.last


def _checked(reader: Any, path: Path) -> Iterator[list[str]]:
    """``reader``'s records; a quoting error names the line its record starts on."""
    while True:
        first = reader.line_num + 1
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "end of data" in str(exc):
                raise DataError(f"{path}: line {first}: a field opens a quote that is never closed (read on, the rest "
                                f"of the file would be one text); close it, or double each quote inside it") from None
            if "expected after" in str(exc):
                raise DataError(f"{path}: line {reader.line_num}: a field that opens with a quote goes on after its "
                                f"closing quote ({exc}); quote the whole field and double each quote inside it "
                                f"(\"say \"\"hi\"\" now\")") from None
            raise DataError(f"{path}: line {reader.line_num}: not readable as CSV ({exc})") from None


def _jsonl_rows(handle: IO[str], path: Path, encoding: str | None) -> Iterator[dict[str, Any]]:
    for number, line in _lines(handle, path, encoding):
        if line.strip():
            yield json_row(line, path, number)


def _text_rows(handle: IO[str], path: Path, encoding: str | None) -> Iterator[dict[str, Any]]:
    """One text a line, as written (a leading full-width space stripped off moved every NER offset); a blank line
    is no text."""
    for _, line in _lines(handle, path, encoding):
        if line.strip():
            yield {"text": line}


def rows(handle: IO[str], path: Path, suffix: str, encoding: str | None = None) -> Iterator[dict[str, Any]]:
    """The rows of an open csv, tsv, jsonl or txt text handle, one at a time: each format's one reader.

    ``encoding`` only names the file's encoding in a decoding error (a handle over a file decodes as it reads).
    """
    if suffix in (".csv", ".tsv"):
        return _csv_rows(handle, path, suffix, encoding)
    if suffix == ".jsonl":
        return _jsonl_rows(handle, path, encoding)
    return _text_rows(handle, path, encoding)


def stream_rows(path: Path, suffix: str, encoding: str | None) -> Iterator[dict[str, Any]]:
    """The rows of a csv, tsv, jsonl, txt or parquet file, one at a time (``suffix`` in :data:`STREAMED`)."""
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=1000):
            yield from batch.to_pylist()
        return
    try:
        codecs.lookup(encoding or "utf-8-sig")
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}") from None
    if encoding is None:
        with open(path, "rb") as head:
            encoding = marked_encoding(head.read(4))
    # universal newlines for csv too: a CRLF inside a quoted cell becomes LF, as read_text makes it
    with open(path, encoding=encoding or "utf-8-sig") as handle:
        yield from rows(handle, path, suffix, encoding)


# --- whole files ---------------------------------------------------------------------------------

Reader = Callable[[Path, str], list[dict[str, Any]]]
"""A whole-file reader: ``read(path, decoded text) -> rows``, as a task's own ``readers()`` are."""


def _collected(suffix: str) -> Reader:
    """The whole-file reader of ``suffix``: its rows over the text :func:`read_text` decoded, collected."""
    def read(path: Path, text: str) -> list[dict[str, Any]]:
        return list(rows(io.StringIO(text), path, suffix))

    return read


GENERIC_READERS: dict[str, Reader] = {
    **{suffix: _collected(suffix) for suffix in (".csv", ".tsv", ".jsonl", ".txt")},
    ".json": read_json,
}
