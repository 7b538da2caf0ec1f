"""Task.examples_from_inputs: what ``predict`` accepts, for tasks of one input column and of two."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from tasuki.errors import DataError
from tasuki.task import Task


class OneText(Task):
    name: ClassVar[str] = "one-text"

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        return {}

    def compute_metrics(self, outputs: Any, features: Any, examples: Any) -> dict[str, float]:
        return {}

    def postprocess(self, outputs: Any, features: Any, examples: Any, *, context: Any = None) -> list[dict[str, Any]]:
        return []


class TwoTexts(OneText):
    name: ClassVar[str] = "two-texts"
    input_columns: ClassVar[tuple[str, ...]] = ("query", "passage")


class Described(TwoTexts):
    name: ClassVar[str] = "described"
    inputs_in_words: ClassVar[str] = "a query and a passage"
    inputs_cli_hint: ClassVar[str] = "tasuki described ask QUERY --passage FILE"


def test_one_input_column_takes_texts_and_dicts() -> None:
    task = OneText()
    assert task.examples_from_inputs("a") == [{"text": "a"}]
    assert task.examples_from_inputs(["a", {"text": "b", "id": 3}]) == [{"text": "a"}, {"text": "b", "id": 3}]
    with pytest.raises(DataError, match=r"input 2: one-text predicts from text, not from int \('5'\).*with text column\)$"):
        task.examples_from_inputs(["a", 5])


def test_two_input_columns_take_pairs_and_dicts_and_refuse_a_bare_text() -> None:
    task = TwoTexts()
    assert task.examples_from_inputs(("q", "p")) == [{"query": "q", "passage": "p"}]
    assert task.examples_from_inputs([("q", "p"), ["r", "s"], {"query": "t", "passage": "u"}]) == \
        [{"query": "q", "passage": "p"}, {"query": "r", "passage": "s"}, {"query": "t", "passage": "u"}]
    with pytest.raises(DataError) as refused:
        task.examples_from_inputs([("q", "p"), "just a query"])
    assert str(refused.value) == ("input 2: two-texts predicts from query and passage, not from one text ('just a query'); "
                                  "give {'query': ..., 'passage': ...} (CLI: tasuki predict MODEL --input FILE with query "
                                  "and passage columns)")
    with pytest.raises(DataError, match=r"input 1: two-texts predicts from query and passage, not from tuple"):
        task.examples_from_inputs([("q", "p", "extra")])


def test_a_task_says_its_inputs_in_its_own_words() -> None:
    with pytest.raises(DataError) as refused:
        Described().examples_from_inputs("a query alone")
    assert "described predicts from a query and a passage, not from one text" in str(refused.value)
    assert str(refused.value).endswith("(CLI: tasuki described ask QUERY --passage FILE)")
