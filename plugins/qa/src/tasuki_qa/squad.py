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
        return [dict(_expect(row, dict, f"{path}: [{i}]", "an object (a row)")) for i, row in enumerate(obj)]
    if isinstance(obj, dict) and "data" in obj:
        return flatten_squad(obj, str(path))
    raise DataError(f"{path}: expected SQuAD JSON ({{'data': [{{'paragraphs': [...]}}]}}) or a list of rows")


def flatten_squad(obj: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    """One row per question of a SQuAD v1.1/v2.0 object; a part of another shape is refused naming its path
    (``data[0].paragraphs[1].qas[2]``). A question's answers may also be the Hub's columns
    (``{"text": [...], "answer_start": [...]}``); :func:`check_answers` checks them against the context."""
    rows: list[dict[str, Any]] = []
    for a, article in enumerate(_expect(obj["data"], list, f"{source}: data", "a list of articles")):
        article = _expect(article, dict, f"{source}: data[{a}]", "an object with 'paragraphs'")
        title = article.get("title", "")
        for p, paragraph in enumerate(_expect(article.get("paragraphs", []), list, f"{source}: data[{a}].paragraphs",
                                              "a list")):
            where = f"{source}: data[{a}].paragraphs[{p}]"
            paragraph = _expect(paragraph, dict, where, "an object with 'context' and 'qas'")
            if "context" not in paragraph:
                raise DataError(f"{where}: no 'context'")
            for q, qa in enumerate(_expect(paragraph.get("qas", []), list, f"{where}.qas", "a list")):
                qa = _expect(qa, dict, f"{where}.qas[{q}]", "an object with 'question' and 'answers'")
                if "question" not in qa:
                    raise DataError(f"{where}.qas[{q}]: no 'question'")
                rows.append({"id": str(qa.get("id", f"{a}-{p}-{q}")), "title": title, "question": qa["question"],
                             "context": paragraph["context"], "answers": _answers(qa, f"{where}.qas[{q}]")})
    return rows


def _answers(qa: Mapping[str, Any], where: str) -> dict[str, list[Any]]:
    """A question's answers as the Hub's columns, values as given (``check_answers`` judges them)."""
    answers = [] if qa.get("is_impossible") else qa.get("answers", [])
    if isinstance(answers, Mapping) and {"text", "answer_start"} <= set(answers):
        return {"text": list(answers["text"] or []), "answer_start": list(answers["answer_start"] or [])}
    answers = _expect(answers, list, f"{where}.answers", 'a list of {"text", "answer_start"}')
    for k, answer in enumerate(answers):
        if not isinstance(answer, Mapping) or not {"text", "answer_start"} <= set(answer):
            raise DataError(f'{where}.answers[{k}]: expected {{"text": ..., "answer_start": ...}}, got {answer!r}')
    return {"text": [x["text"] for x in answers], "answer_start": [x["answer_start"] for x in answers]}


def _expect(value: Any, kind: type, where: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise DataError(f"{where}: expected {what}, got {type(value).__name__} {str(value)[:40]!r}")
    return value


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
            elif not isinstance(start, int) or isinstance(start, bool):  # "0", 1.9, true: not read as a position
                problems.append(f"{name}: answer_start {start!r} of {text!r} is not an integer")
            elif start < 0 or context[start : start + len(text)] != text:
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
