"""Reading SQuAD JSON, and the clear errors for bad QA data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tasuki
from tasuki.data import load_data
from tasuki.errors import DataError
from tasuki_qa.squad import check_answers, packaged_data, read_squad_json
from tasuki_qa.task import QATask

CONTEXT = "Mount Everest was first climbed in 1953 by Tenzing Norgay and Edmund Hillary."
SQUAD_V2 = {
    "version": "v2.0",
    "data": [{"title": "Everest", "paragraphs": [{"context": CONTEXT, "qas": [
        {"id": "q1", "question": "When was Everest first climbed?", "answers": [{"text": "1953", "answer_start": 35}]},
        {"id": "q2", "question": "How tall is it?", "answers": [], "is_impossible": True,
         "plausible_answers": [{"text": "1953", "answer_start": 35}]},
    ]}]}],
}


def write(tmp_path: Path, obj: object, name: str = "qa.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def test_squad_v2_json_becomes_rows(tmp_path: Path) -> None:
    data, _ = load_data(str(write(tmp_path, SQUAD_V2)), QATask)
    assert data.num_rows == 2
    assert data[0]["answers"] == {"text": ["1953"], "answer_start": [35]}
    assert data[1]["answers"] == {"text": [], "answer_start": []}  # plausible answers are not answers
    assert data[0]["title"] == "Everest" and data[0]["id"] == "q1"


def test_jsonl_rows_in_hub_layout(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    row = {"question": "When?", "context": CONTEXT, "answers": {"text": ["1953"], "answer_start": [35]}}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    data, source = load_data(str(path), QATask)
    QATask().validate(data, source, with_targets=True)
    assert data[0]["answers"]["answer_start"] == [35]


def test_invalid_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"data": [\n  {"title": }\n]}', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.json: line 2"):
        read_squad_json(path, path.read_text())


def test_mismatched_answer_starts_are_listed_by_id(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(SQUAD_V2))
    qas = bad["data"][0]["paragraphs"][0]["qas"]
    qas[0]["answers"][0]["answer_start"] = 30  # off by five
    qas.append({"id": "q3", "question": "Who?", "answers": [{"text": "Reinhold Messner", "answer_start": 0}]})
    data, source = load_data(str(write(tmp_path, bad)), QATask)
    with pytest.raises(DataError) as err:
        QATask().validate(data, source, with_targets=True)
    message = str(err.value)
    assert "2 answer(s)" in message and "qa.json" in message
    assert "id 'q1'" in message and "occurs at 35" in message
    assert "id 'q3'" in message and "not in the context" in message


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("question", "  ", r"row 1, column 'question': empty text"),
    ("context", "", r"row 1, column 'context': empty text"),
])
def test_empty_question_or_context(column: str, value: str, expected: str) -> None:
    row = {"question": "When?", "context": CONTEXT, "answers": {"text": [], "answer_start": []}, column: value}
    data, source = load_data([row], QATask)
    with pytest.raises(DataError, match=expected):
        QATask().validate(data, source, with_targets=True)


def test_answers_column_shape_is_checked() -> None:
    with pytest.raises(DataError, match=r"row 1, column 'answers'"):
        check_answers([{"context": CONTEXT, "answers": ["1953"]}], "rows")
    with pytest.raises(DataError, match=r"row 1: 1 answer texts but 0 answer_start"):
        check_answers([{"context": CONTEXT, "answers": {"text": ["1953"], "answer_start": []}}], "rows")


def test_packaged_sets_are_valid_squad_v2() -> None:
    sizes = {}
    for lang in ("en", "ja"):
        for split in ("train", "test"):
            path = packaged_data(lang, split)
            rows = read_squad_json(path, path.read_text(encoding="utf-8"))
            check_answers(rows, str(path))
            sizes[lang, split] = (len(rows), sum(not r["answers"]["text"] for r in rows))
    assert sizes["en", "train"][0] >= 200 and sizes["ja", "train"][0] >= 90
    assert all(no_answer > 0 for _, no_answer in sizes.values())  # every split has unanswerable questions
    train_contexts = {r["context"] for r in read_squad_json(packaged_data("en", "train"),
                                                            packaged_data("en", "train").read_text())}
    test_rows = read_squad_json(packaged_data("en", "test"), packaged_data("en", "test").read_text())
    assert not train_contexts & {r["context"] for r in test_rows}  # held-out articles


def test_task_is_registered() -> None:
    assert "qa" in tasuki.list_tasks()


def _squad_with(qa: dict) -> dict:
    return {"data": [{"title": "Everest", "paragraphs": [{"context": CONTEXT, "qas": [{"id": "q1", "question": "When?",
                                                                                        **qa}]}]}]}


@pytest.mark.parametrize(("obj", "expected"), [  # each was a traceback (KeyError, ValueError, TypeError, ...)
    (_squad_with({"answers": [{"answer_start": 35}]}), r"data\[0\]\.paragraphs\[0\]\.qas\[0\]\.answers\[0\]: expected"),
    ({"data": {"title": "x"}}, r"qa.json: data: expected a list of articles, got dict"),
    ({"data": ["x"]}, r"data\[0\]: expected an object with 'paragraphs', got str"),
    (["a", "b"], r"qa.json: \[0\]: expected an object \(a row\), got str"),
])
def test_a_squad_file_of_another_shape_is_refused_naming_the_part(tmp_path: Path, obj, expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        load_data(str(write(tmp_path, obj)), QATask)


@pytest.mark.parametrize("start", ["35", 35.9, True])
def test_answer_start_is_an_integer_in_json_as_in_jsonl(tmp_path: Path, start) -> None:
    # a .json file read "35" and 35.9 as 35 (int()), where a .jsonl refused them; true was 1 in both
    data, source = load_data(str(write(tmp_path, _squad_with({"answers": [{"text": "1953", "answer_start": start}]}))),
                             QATask)
    with pytest.raises(DataError, match=rf"answer_start {start!r} of '1953' is not an integer"):
        QATask().validate(data, source, with_targets=True)


def test_answers_in_the_hubs_columns_inside_squad_json_are_read(tmp_path: Path) -> None:
    data, _ = load_data(str(write(tmp_path, _squad_with({"answers": {"text": ["1953"], "answer_start": [35]}}))), QATask)
    assert data[0]["answers"] == {"text": ["1953"], "answer_start": [35]}
