"""SQuAD-format data: reading v1.1/v2.0 JSON into rows, and checking that answers point at their text.

A row is ``{"id", "title", "question", "context", "answers": {"text": [...], "answer_start": [...]}}``,
the layout of the Hub's ``squad`` / ``squad_v2`` datasets; an unanswerable (v2) question has
empty answer lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from tasuki.plugin import DataError

MAX_LISTED = 10
"""How many mismatching ids an error lists before it says "and N more"."""


def read_squad_json(path: Path, text: str) -> list[dict[str, Any]]:
    """Read a ``.json`` file: SQuAD (``{"data": [{"paragraphs": ...}]}``) or a plain list of rows.

    The signature is that of :meth:`tasuki.task.Task.readers`: ``text`` is the decoded file.
    """
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from None
    if isinstance(obj, list):
        return [dict(row) for row in obj]
    if isinstance(obj, dict) and "data" in obj:
        return flatten_squad(obj, str(path))
    raise DataError(f"{path}: expected SQuAD JSON ({{'data': [{{'paragraphs': [...]}}]}}) or a list of rows")


def flatten_squad(obj: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    """One row per question of a SQuAD v1.1/v2.0 object."""
    rows: list[dict[str, Any]] = []
    for a, article in enumerate(obj["data"]):
        title = article.get("title", "")
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            where = f"{source}: data[{a}].paragraphs[{p}]"
            if "context" not in paragraph:
                raise DataError(f"{where}: no 'context'")
            for q, qa in enumerate(paragraph.get("qas", [])):
                if "question" not in qa:
                    raise DataError(f"{where}.qas[{q}]: no 'question'")
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                rows.append(
                    {
                        "id": str(qa.get("id", f"{a}-{p}-{q}")),
                        "title": title,
                        "question": qa["question"],
                        "context": paragraph["context"],
                        "answers": {
                            "text": [x["text"] for x in answers],
                            "answer_start": [int(x["answer_start"]) for x in answers],
                        },
                    }
                )
    return rows


def check_answers(rows: Iterable[Mapping[str, Any]], source: str) -> None:
    """Raise :class:`DataError` unless every ``answer_start`` points at its answer text.

    All mismatches are collected first and reported together, by id (or row number).
    """
    problems: list[str] = []
    for row_number, row in enumerate(rows, start=1):
        name = f"id {row['id']!r}" if row.get("id") not in (None, "") else f"row {row_number}"
        answers = row.get("answers")
        if not isinstance(answers, Mapping) or not {"text", "answer_start"} <= set(answers):
            raise DataError(
                f"{source}: row {row_number}, column 'answers': expected "
                f"{{'text': [...], 'answer_start': [...]}}, got {answers!r}"
            )
        texts, starts = list(answers["text"] or []), list(answers["answer_start"] or [])
        if len(texts) != len(starts):
            problems.append(f"{name}: {len(texts)} answer texts but {len(starts)} answer_start values")
            continue
        context = row["context"]
        for text, start in zip(texts, starts):
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{name}: empty answer text (an unanswerable question has empty lists)")
            elif not isinstance(start, int) or start < 0 or context[start : start + len(text)] != text:
                found = context.find(text) if isinstance(text, str) else -1
                hint = f" (the text occurs at {found})" if found >= 0 else " (the text is not in the context)"
                problems.append(f"{name}: answer {text!r} is not at answer_start {start}{hint}")
    if problems:
        more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise DataError(
            f"{source}: {len(problems)} answer(s) do not match their context: " + "; ".join(problems[:MAX_LISTED]) + more
        )


def packaged_data(lang: str, split: str) -> Path:
    """The path of the plugin's own SQuAD v2-format set: ``lang`` en/ja, ``split`` train/test."""
    if lang not in ("en", "ja") or split not in ("train", "test"):
        raise DataError(f"packaged QA data exists for lang en/ja and split train/test, not {lang}/{split}")
    return Path(str(resources.files("tasuki_qa") / "data" / f"{lang}_{split}.json"))
