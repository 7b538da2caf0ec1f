"""The labels file: one JSON line per answer, on disk before the next text is shown.

The file stays an ordinary training file (``tasuki train classify --data labels.jsonl``): each line is
``{"text": ..., "label": "A"}`` (multi-label: ``"label": ["A", "B"]``, ``[]`` for none; pairs, ``tasuki train
classify-pairs``: ``{"text": ..., "text_pair": ..., "label": "A"}``). An answer is
appended, flushed and fsynced, so a killed process loses nothing. Undo rewrites the file without its last
line (a temporary file renamed over it, so a reader sees the old file or the new one, never half of one):
a retraction line would make the file something ``tasuki train`` cannot read. Every other byte stays as it
was: a file edited by hand keeps its own columns, key order and line endings.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tasuki.plugin import DataError, atomic_path, atomic_write_text, iter_rows
from tasuki_label import TASKS, item_fields

BOM = b"\xef\xbb\xbf"


class LabelStore:
    """The answers in ``path``: read at start (checked against the label set), appended one at a time."""

    def __init__(self, path: str | Path, labels: Sequence[str], multi_label: bool, pairs: bool = False) -> None:
        self.path = Path(path)
        self.labels = list(labels)
        self.multi_label = multi_label
        self.fields = TASKS["classify-pairs" if pairs else "classify"]  # an item's text columns
        self._lock = threading.Lock()
        self.rows: list[dict[str, Any]] = self._read() if self.path.exists() else []

    def _read(self) -> list[dict[str, Any]]:
        rows = []
        for number, row in enumerate(iter_rows(self.path), start=1):
            for field in self.fields:
                text = row.get(field)
                if not isinstance(text, str) or not text.strip():
                    raise DataError(f"{self.path}: row {number}, column {field!r}: expected a non-empty text, "
                                    f"got {text!r}")
            if "label" not in row:
                raise DataError(f"{self.path}: row {number}: missing column 'label'")
            rows.append({**{field: row[field] for field in self.fields},
                         "label": self.check(row["label"], f"{self.path}: row {number}, column 'label'")})
        return rows

    def key(self, row: dict[str, Any]) -> Any:
        """A row's item: its text, or its pair ``(text, text_pair)``."""
        return row["text"] if len(self.fields) == 1 else tuple(row[field] for field in self.fields)

    def check(self, value: Any, where: str) -> str | list[str]:
        """``value`` if it is an answer of this label set: one label, or (multi-label) a list of distinct ones."""
        allowed = ", ".join(self.labels)
        if self.multi_label:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(set(value)) != len(value):
                raise DataError(f"{where}: expected a list of distinct labels (multi-label), got {value!r}")
            unknown = [v for v in value if v not in self.labels]
            if unknown:
                raise DataError(f"{where}: unknown label {unknown[0]!r}; allowed: {allowed}")
            return [name for name in self.labels if name in value]  # the label set's order: one answer, one line
        if not isinstance(value, str) or value not in self.labels:
            raise DataError(f"{where}: unknown label {value!r}; allowed: {allowed}")
        return value

    @property
    def texts(self) -> set[Any]:
        """The items (texts or pairs) labelled so far."""
        return {self.key(row) for row in self.rows}

    def append(self, text: Any, label: str | list[str]) -> None:
        """Write one answer to ``text`` (a text, or a pair ``(text, text_pair)``); return once it is on disk."""
        row = {**item_fields(text), "label": self.check(label, "answer")}
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as handle:
                newline = self._newline(handle)
                handle.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + newline)
                handle.flush()
                os.fsync(handle.fileno())
            self.rows.append(row)

    @staticmethod
    def _newline(handle: Any) -> bytes:
        """The line ending an answer appended to ``handle`` ends with: the file's own (CRLF for a file written so),
        first ending a last line written without one, else two answers would share one line."""
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return b"\n"
        handle.seek(0)
        first = handle.readline()
        newline = b"\r\n" if first.endswith(b"\r\n") else b"\n"
        handle.seek(size - 1)
        if handle.read(1) != b"\n":
            handle.write(newline)
        return newline

    def remove_last(self, text: Any) -> dict[str, Any]:
        """Take back the last answer, which must be ``text``'s (the session's undo): the file's last line goes, by
        an atomic rewrite that keeps every other byte (a hand-added column, CRLF endings)."""
        with self._lock:
            if not self.rows or self.key(self.rows[-1]) != text:
                raise DataError(f"{self.path}: the last answer is not {text!r}; nothing was taken back")
            content = self.path.read_bytes()
            body = content.rstrip(b"\r\n\t ")
            start = max(body.rfind(b"\n") + 1, len(BOM) if body.startswith(BOM) else 0)
            try:
                last = json.loads(body[start:].decode("utf-8"))
            except ValueError:
                last = None
            if not isinstance(last, dict) or self.key({f: last.get(f) for f in self.fields}) != text \
                    or last.get("label") != self.rows[-1]["label"]:
                raise DataError(f"{self.path}: the last line is not the answer to {text!r} (was the file edited?); "
                                f"nothing was taken back")
            with atomic_path(self.path) as tmp, open(tmp, "wb") as handle:
                handle.write(content[:start])
                handle.flush()
                os.fsync(handle.fileno())
            return self.rows.pop()

    def snapshot(self, path: str | Path) -> int:
        """Copy the answers so far to ``path`` (what a training round reads while labelling goes on); their count.

        The copy has ``text`` (pairs: and ``text_pair``) and ``label`` only, in the labels file's order: what
        training reads; other columns of a file edited by hand stay in the labels file alone."""
        with self._lock:
            rows = list(self.rows)
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return len(rows)
