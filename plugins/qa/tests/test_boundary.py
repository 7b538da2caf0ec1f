"""QA predict at the boundary (issue 24): a plain text is one line saying what QA takes, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import tasuki
from tasuki.cli import cli
from tasuki.errors import DataError
from tasuki.registry import Registry, set_registry
from tasuki_qa import plugin

CONTEXT = "Everest was first climbed by Tenzing Norgay and Edmund Hillary."
ROWS = [{"question": "Who climbed Everest first?", "context": CONTEXT,
         "answers": {"text": ["Edmund Hillary"], "answer_start": [CONTEXT.index("Edmund Hillary")]}}] * 4


@pytest.fixture(scope="module")
def model_dir(tiny_en: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    set_registry(Registry([("qa", plugin)], entry_points=False))
    out = tmp_path_factory.mktemp("qa-boundary") / "model"
    tasuki.train("qa", ROWS, backbone=str(tiny_en), output_dir=out, max_steps=1, batch_size=4, max_length=64,
                 eval_split=0, checkpoints=False, progress=False)
    return out


def test_plain_text_is_one_line_saying_what_qa_takes(model_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["predict", str(model_dir), "Who climbed Everest first?"])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
    assert "qa predicts from a question and its context, not from one text" in lines[-1]
    assert "tasuki qa ask" in lines[-1] and "question and context columns" in lines[-1]
    model = tasuki.load(model_dir, device="cpu")
    for given in ("Who climbed Everest first?", ["Who?", "When?"], [("Who?", "a", "b")]):
        with pytest.raises(DataError, match="input 1: qa predicts from a question and its context"):
            model.predict(given)


def test_questions_with_contexts_still_predict(model_dir: Path, tmp_path: Path) -> None:
    model = tasuki.load(model_dir, device="cpu")
    one = model.predict(question="Who climbed Everest first?", context=CONTEXT)
    assert set(one) >= {"answer", "score", "start", "end"}
    assert model.predict(("Who climbed Everest first?", CONTEXT)) == one  # one (question, context) pair, one answer
    assert model.predict([("Who climbed Everest first?", CONTEXT)]) == [one]
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"question": "Who climbed Everest first?", "context": CONTEXT}) + "\n", "utf-8")
    result = CliRunner().invoke(cli, ["predict", str(model_dir), "--input", str(source), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["answer"] == one["answer"]
