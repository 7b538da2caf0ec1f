"""The qa task through the core: train, save, load, predict, evaluate, the CLI, and the reference decoder."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from hf_reference import reference_answer
from qa_helpers import run_outputs
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

import tasuki
from tasuki.errors import DataError
from tasuki.registry import Registry, set_registry
from tasuki.settings import SettingError
from tasuki_qa import plugin
from tasuki_qa.task import QATask

FACTS = [
    ("Who climbed Everest first?", "Everest was first climbed by Tenzing Norgay and Edmund Hillary.", "Edmund Hillary"),
    ("When was Everest climbed?", "The mountain was first climbed in 1953 by a British team.", "1953"),
    ("What is the capital of Japan?", "Tokyo is the capital of Japan and its largest city.", "Tokyo"),
    ("Which river flows north?", "The Nile is a river that flows north into the sea.", "The Nile"),
    ("Where was Marie Curie born?", "Marie Curie was born in Warsaw in 1867 and moved to Paris.", "Warsaw"),
    ("What year did Tokyo get its name?", "Edo was renamed Tokyo in 1868 after the restoration.", "1868"),
]
NO_ANSWER = [("How tall is Everest?", "The Moon is the only natural satellite of the Earth.")]
LONG = ("The river flows north through the dry plain and the old city. " * 8
        + "Hillary climbed Everest in 1953. " + "The moon was named by the first people of the city. " * 6)


def rows() -> list[dict]:
    out = [{"id": f"f{i}", "question": q, "context": c, "answers": {"text": [a], "answer_start": [c.index(a)]}}
           for i, (q, c, a) in enumerate(FACTS)]
    out += [{"id": f"n{i}", "question": q, "context": c, "answers": {"text": [], "answer_start": []}}
            for i, (q, c) in enumerate(NO_ANSWER)]
    return out


@pytest.fixture(scope="module")
def trained(tiny_en: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model that has memorised the facts (about 10 s on 2 CPU cores)."""
    set_registry(Registry([("qa", plugin)], entry_points=False))
    out = tmp_path_factory.mktemp("qa_model")
    tasuki.train("qa", rows() * 4, backbone=str(tiny_en), output_dir=out, epochs=25, batch_size=8,
                 learning_rate=3e-3, max_length=64, eval_split=0, progress=False, seed=0,
                 task_options={"doc_stride": 16})
    return out


def test_train_predict_recovers_answers(trained: Path) -> None:
    model = tasuki.load(trained)
    predictions = model.predict([{"question": q, "context": c} for q, c, _ in FACTS])
    assert [p["answer"] for p in predictions] == [a for _, _, a in FACTS]
    for (_, context, _), p in zip(FACTS, predictions):
        assert context[p["start"] : p["end"]] == p["answer"] and 0 < p["score"] <= 1
    single = model.predict(question=FACTS[0][0], context=FACTS[0][1])  # keyword form: one result
    assert single["answer"] == "Edmund Hillary"
    assert model.task.option("allow_impossible") is True  # fit() saw unanswerable questions


def test_evaluate_reports_has_and_no_answer(trained: Path, tmp_path: Path) -> None:
    metrics = tasuki.evaluate(trained, rows(), plots_dir=tmp_path)
    assert metrics["HasAns_total"] == 6 and metrics["NoAns_total"] == 1
    assert metrics["HasAns_exact"] == 100.0
    assert {"best_f1", "best_f1_thresh", "f1", "exact"} <= set(metrics)
    assert Path(metrics["figures"][0]).read_bytes()[:4] == b"\x89PNG"


def test_same_answers_as_the_transformers_pipeline_decoder(trained: Path) -> None:
    """The saved directory loads with the Auto classes, and the v4 pipeline's decoding agrees."""
    model = AutoModelForQuestionAnswering.from_pretrained(trained, use_safetensors=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(trained)
    questions = [(q, c) for q, c, _ in FACTS] + NO_ANSWER + [(q, LONG) for q, _, _ in FACTS]
    ours = tasuki.load(trained).predict([{"question": q, "context": c} for q, c in questions])
    for (q, c), mine in zip(questions, ours):
        ref = reference_answer(model, tokenizer, q, c, max_seq_len=64, doc_stride=16,
                               handle_impossible_answer=True)
        assert (mine["answer"], mine["start"], mine["end"]) == (ref["answer"], ref["start"], ref["end"]), q
        assert mine["score"] == pytest.approx(ref["score"], rel=1e-4, abs=1e-7)


def test_runner_padding_is_trimmed(trained: Path) -> None:
    loaded = tasuki.load(trained)
    inputs = [{"question": q, "context": LONG} for q, _, _ in FACTS[:3]]
    outputs, features, examples = run_outputs(loaded.task, loaded.model, loaded.tokenizer, inputs, 64,
                                              batch_size=2, pad_to=80)
    padded = loaded.task.postprocess(outputs, features, examples)
    assert padded == loaded.predict(inputs)


def test_cli_ask_and_tune(trained: Path, tmp_path: Path, registry: Registry) -> None:
    group = click.Group()
    registry.add_commands(group)
    assert registry.plugins["qa"].commands == ["qa"]
    context = tmp_path / "everest.txt"
    context.write_text(FACTS[0][1], encoding="utf-8")
    result = CliRunner().invoke(group, ["qa", "ask", str(trained), "--context", str(context), "--json", FACTS[0][0]])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output[result.output.rindex('{"question"') :])  # after any progress bars
    assert answer["answer"] == "Edmund Hillary" and answer["question"] == FACTS[0][0]
    # a context file in UTF-16 (with its BOM) reads; one that is not UTF-8 is one line naming it (was a traceback)
    context.write_text(FACTS[0][1], encoding="utf-16")
    result = CliRunner().invoke(group, ["qa", "ask", str(trained), "--context", str(context), "--json", FACTS[0][0]])
    assert result.exit_code == 0 and '"answer": "Edmund Hillary"' in result.output, result.output
    context.write_bytes(FACTS[0][1].encode("latin-1") + b" caf\xe9")
    result = CliRunner().invoke(group, ["qa", "ask", str(trained), "--context", str(context), FACTS[0][0]])
    assert isinstance(result.exception, DataError) and "cannot decode byte 0xe9" in str(result.exception)

    data = tmp_path / "eval.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows()), encoding="utf-8")
    before = tasuki.evaluate(trained, rows())
    result = CliRunner().invoke(group, ["qa", "tune", str(trained), "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert tasuki.load(trained).task.option("null_threshold") == pytest.approx(before["best_f1_thresh"])
    # what tune promises: evaluating with the saved threshold gives the best F1 the search found
    assert tasuki.evaluate(trained, rows())["f1"] == pytest.approx(before["best_f1"])


def test_predict_input_errors(trained: Path) -> None:
    model = tasuki.load(trained)
    with pytest.raises(DataError, match="missing \\['context'\\]"):
        model.predict({"question": "Who?"})
    with pytest.raises(DataError, match="column 'context': empty text"):
        model.predict(question="Who?", context=" ")
    with pytest.raises(DataError, match="the question is .* tokens; at most 32 fit in max_length 64"):
        model.predict(question="who " * 40, context=FACTS[0][1])


def test_japanese_answers_are_exact_substrings(tiny_ja: Path, tmp_path: Path) -> None:
    context = "富士山は静岡県と山梨県にまたがる活火山である。標高は3776メートルで、日本の最高峰である。"
    data = [{"question": "富士山の標高は何メートルか。", "context": context,
             "answers": {"text": ["3776メートル"], "answer_start": [context.index("3776メートル")]}}] * 8
    tasuki.train("qa", data, lang="ja", backbone=str(tiny_ja), output_dir=tmp_path / "ja", epochs=15,
                 batch_size=8, learning_rate=3e-3, max_length=48, eval_split=0, progress=False, seed=0)
    model = tasuki.load(tmp_path / "ja")
    answer = model.predict(question="富士山の標高は何メートルか。", context=context * 3)
    assert answer["answer"] == (context * 3)[answer["start"] : answer["end"]] == "3776メートル"
    metrics = model.evaluate(data)  # one question it has learnt by heart: character F1 is exact
    assert metrics["exact"] == metrics["f1"] == 100.0 and metrics["HasAns_total"] == 8


def test_options_are_checked_and_saved() -> None:
    with pytest.raises(SettingError, match="unknown option of task 'qa' 'doc_strde'; known: .*doc_stride"):
        QATask(doc_strde=64)
    task = QATask.from_state(QATask(lang="ja", doc_stride=64).state())
    assert task.lang == "ja" and task.option("doc_stride") == 64


def test_tuple_inputs() -> None:
    rows_ = QATask().examples_from_inputs(("Who?", "Hillary."))
    assert rows_ == [{"question": "Who?", "context": "Hillary.", "id": "1"}]
    assert np.all([r["id"] for r in QATask().examples_from_inputs([("a", "b"), ("c", "d")])] == ["1", "2"])


def _hand_outputs(p_start: dict[int, float], p_end: dict[int, float], n: int) -> dict[str, np.ndarray]:
    """Logits whose softmax over [CLS] and the context tokens is exactly the given probabilities."""
    start, end = np.full(n, -50.0, dtype=np.float32), np.full(n, -50.0, dtype=np.float32)
    for t, p in p_start.items():
        start[t] = np.log(p)
    for t, p in p_end.items():
        end[t] = np.log(p)
    return {"start_logits": start, "end_logits": end}


def test_threshold_search_answers_where_the_model_abstained() -> None:
    """Three one-window questions over "alpha beta gamma", probabilities chosen by hand.

    Tokens: [CLS] q [SEP] alpha(3) beta(4) gamma(5) [SEP]; p_start = p_end in each question.
      A gold "beta":  CLS .5, beta .4            null .25, best span beta .16  -> no-answer score  .09 -> ""
      B unanswerable: CLS .8, alpha .1           null .64, best span alpha .01 -> no-answer score  .63 -> ""
      C gold "gamma": CLS .1, gamma .8           null .01, best span gamma .64 -> no-answer score -.63 -> "gamma"
    At threshold 0 exact match is 2/3 (B, C). Answering where the score is <= .09 answers A with
    "beta" and keeps B abstaining: 3/3. So best_exact = 100 at threshold .09 (not reachable if the
    search answers A with its prediction "", which is what it did before).
    """
    from datasets import Dataset

    context = "alpha beta gamma"
    offsets = [None, None, None, [0, 5], [6, 10], [11, 16], None]
    features = Dataset.from_list([{"offset_mapping": offsets, "word_ids": [None, None, None, 0, 1, 2, None],
                                   "window_index": 0}] * 3)
    rest = {3: 0.05, 4: 0.05, 5: 0.05}
    probs = [{**rest, 0: 0.5, 4: 0.4}, {**rest, 0: 0.8, 3: 0.1}, {**rest, 0: 0.1, 5: 0.8}]
    outputs = [_hand_outputs(p, p, len(offsets)) for p in probs]
    answers = [{"text": ["beta"], "answer_start": [6]}, {"text": [], "answer_start": []},
               {"text": ["gamma"], "answer_start": [11]}]
    examples = Dataset.from_list([{"question": "q", "context": context, "answers": a} for a in answers])
    task = QATask()
    task.fit(examples)
    assert [p["answer"] for p in task.postprocess(outputs, features, examples)] == ["", "", "gamma"]
    m = task.compute_metrics(outputs, features, examples)
    assert m["exact"] == pytest.approx(200 / 3)
    assert m["best_exact"] == 100.0 and m["best_exact_thresh"] == pytest.approx(0.09, abs=1e-5)
    assert m["best_f1"] == 100.0 and m["best_f1_thresh"] == pytest.approx(0.09, abs=1e-5)
    tuned = QATask(null_threshold=m["best_exact_thresh"])
    tuned.fit(examples)
    assert [p["answer"] for p in tuned.postprocess(outputs, features, examples)] == ["beta", "", "gamma"]


def test_streamed_training_takes_every_window(tiny_en: Path, tmp_path: Path) -> None:
    long = [{"id": "long", "question": "When did Hillary climb Everest?", "context": LONG,
             "answers": {"text": ["1953"], "answer_start": [LONG.index("1953")]}}]
    data = (rows() + long) * 3
    common = {"backbone": str(tiny_en), "epochs": 2, "batch_size": 4, "max_length": 64, "eval_split": 0,
              "progress": False, "save_steps": 0, "task_options": {"doc_stride": 16}}
    usual = tasuki.train("qa", data, output_dir=tmp_path / "usual", streaming=False, **common)
    streamed = tasuki.train("qa", data, output_dir=tmp_path / "streamed", streaming=True, **common)
    # the long context makes several windows: a streamed epoch counts windows, not examples
    assert streamed.global_step == usual.global_step > 2 * len(data) // 4
