"""The labels file and the session's answers, skips and undo, without a server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import classify_plugin
from tasuki.plugin import DataError
from tasuki.testing import refusal
from tasuki_label.pool import probabilities
from tasuki_label.selection import margins
from tasuki_label.session import Conflict, Session, check_labels
from tasuki_label.store import LabelStore

LABELS = ["sport", "politics", "weather"]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8-sig").splitlines()]


def test_answers_are_lines_of_a_training_file_and_undo_rewrites_it(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl", LABELS, multi_label=False)
    store.append("a goal", "sport")
    store.append("a vote", "politics")
    assert _lines(store.path) == [{"text": "a goal", "label": "sport"}, {"text": "a vote", "label": "politics"}]
    with pytest.raises(DataError, match="the last answer is not 'a goal'"):
        store.remove_last("a goal")
    assert store.remove_last("a vote") == {"text": "a vote", "label": "politics"}
    assert _lines(store.path) == [{"text": "a goal", "label": "sport"}]
    assert LabelStore(store.path, LABELS, multi_label=False).rows == store.rows  # a restart reads the same
    with pytest.raises(DataError, match="unknown label 'tennis'; allowed: sport, politics, weather"):
        store.append("a set", "tennis")
    assert len(_lines(store.path)) == 1


def test_undo_takes_back_only_the_last_line_and_keeps_a_hand_edited_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    by_hand = ('{"label": "sport", "text": "今日は晴れです", "annotator": "山田", "memo": "要確認"}\r\n'
               '{"text": "a vote", "label": "politics", "extra": [1, 2]}\r\n').encode()
    path.write_bytes(by_hand)
    store = LabelStore(path, LABELS, multi_label=False)
    store.append("a goal", "sport")
    assert path.read_bytes() == by_hand + b'{"text": "a goal", "label": "sport"}\r\n'  # the file's own endings
    store.remove_last("a goal")
    assert path.read_bytes() == by_hand  # every column, key order and CRLF of the other lines kept
    assert [r["text"] for r in store.rows] == ["今日は晴れです", "a vote"]
    path.write_bytes(by_hand + b'{"text": "rain", "label": "weather"}\n')  # the last line changed behind the store
    with pytest.raises(DataError, match="the last line is not the answer to 'a vote'"):
        store.remove_last("a vote")
    assert path.read_bytes() == by_hand + b'{"text": "rain", "label": "weather"}\n'


def test_an_answer_appended_to_a_file_without_a_final_newline_starts_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a vote", "label": "politics", "who": "me"}')  # a BOM, no final newline
    store = LabelStore(path, LABELS, multi_label=False)
    store.append("a goal", "sport")
    assert _lines(path) == [{"text": "a vote", "label": "politics", "who": "me"}, {"text": "a goal", "label": "sport"}]
    assert LabelStore(path, LABELS, multi_label=False).rows == store.rows
    store.remove_last("a goal")
    store.remove_last("a vote")
    assert path.read_bytes() == b"\xef\xbb\xbf"


def test_multi_label_answers_are_lists_in_label_order(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl", LABELS, multi_label=True)
    store.append("rain stops play", ["weather", "sport"])
    store.append("nothing", [])
    assert _lines(store.path) == [{"text": "rain stops play", "label": ["sport", "weather"]},
                                  {"text": "nothing", "label": []}]
    for bad, message in ((["sport", "sport"], "distinct labels"), ("sport", "a list of distinct labels"),
                         (["golf"], "unknown label 'golf'")):
        with pytest.raises(DataError, match=message):
            store.append("x", bad)


def test_an_existing_file_with_another_label_set_is_refused_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "a", "label": "sport"}\n{"text": "b", "label": "golf"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"row 2, column 'label': unknown label 'golf'"):
        LabelStore(path, LABELS, multi_label=False)


def test_session_answer_skip_undo(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl", LABELS, multi_label=False)
    session = Session(["t1", "t2", "t3"], store, strategy="random")
    session.queue = ["t1", "t2", "t3"]  # the order a choice would give; choosing itself is tested elsewhere
    session.answer(0, "sport")
    with pytest.raises(Conflict, match="text 0 is no longer shown"):
        session.answer(0, "sport")  # a double click: never labels the next text
    session.skip(1)
    assert session.remaining() == ["t3"] and store.texts == {"t1"}
    session.undo()  # the skip
    assert session.queue[0] == "t2" and session.remaining() == ["t2", "t3"]
    session.undo()  # the answer: off the file too
    assert session.queue[0] == "t1" and store.rows == [] and _lines(store.path) == []
    with pytest.raises(Conflict, match="nothing to undo"):
        session.undo()
    assert session.state()["item"] == {"id": session.item, "text": "t1", "guess": None}


def test_the_counts_add_up_to_the_pool_when_the_file_holds_answers_to_other_texts(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "t1", "label": "sport"}\n{"text": "t2 ", "label": "sport"}\n'  # "t2 ": edited by hand
                    '{"text": "t1", "label": "weather"}\n', encoding="utf-8")
    session = Session(["t1", "t2", "t3", "t4"], LabelStore(path, LABELS, multi_label=False), strategy="random")
    session.queue = ["t2", "t3", "t4"]
    session.skip(0)
    view = session.state()
    assert {key: view[key] for key in ("labelled", "outside", "twice", "skipped", "remaining", "pool")} == {
        "labelled": 3, "outside": 1, "twice": 1, "skipped": 1, "remaining": 2, "pool": 4}
    assert view["labelled"] - view["outside"] - view["twice"] + view["skipped"] + view["remaining"] == view["pool"]


def test_the_page_refuses_bad_arguments_in_one_line(tmp_path: Path) -> None:
    pool = tmp_path / "pool.txt"
    pool.write_text("a\nb\n", encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    base = ["label", pool, "--task", "classify", "--output", out]
    assert "two or more comma-separated names" in refusal(*base, "--labels", "pos")
    assert "'pos' is given twice" in refusal(*base, "--labels", "pos,neg,pos")
    assert "unknown option of task 'classify' 'multi'" in refusal(*base, "--labels", "a,b", "--option", "multi=1")
    # a multi-label option for single-label answers would fail the first training round: refused at the start
    assert "'threshold': multi-label only" in refusal(*base, "--labels", "a,b", "--option", "threshold=0.3")
    assert "--folds: 1 is not allowed" in refusal(*base, "--labels", "a,b", "--folds", 1)
    assert "'ner' is not one of 'classify', 'classify-pairs'" in refusal("label", pool, "--task", "ner", "--output", out,
                                                                         "--labels", "a,b")
    assert "allowed: a .jsonl file" in refusal("label", pool, "--task", "classify", "--labels", "a,b", "--output", "x.csv")
    assert not out.exists()


def test_a_label_with_a_comma_is_given_by_label_once_per_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasuki.testing import run_cli
    from tasuki_label.page import LabelServer

    pool = tmp_path / "pool.txt"
    pool.write_text("a\nb\n", encoding="utf-8")
    base = ["label", pool, "--task", "classify", "--output", tmp_path / "labels.jsonl"]
    seen = []  # the session's label set; served no further
    monkeypatch.setattr(LabelServer, "serve_forever", lambda self: seen.append(self.session.store.labels))
    code, _, err = run_cli(*base, "--label", "sport, outdoor", "--label", "politics", "--port", 0, "--every", 0,
                           "--strategy", "random")
    assert code == 0, err
    assert seen == [["sport, outdoor", "politics"]]
    assert "not both" in refusal(*base, "--labels", "a,b", "--label", "c")
    assert "--labels A,B,C or --label A --label B" in refusal(*base)
    assert "--label: ('a',) is not allowed; allowed: two or more names" in refusal(*base, "--label", "a")
    assert "--label: 'a' is given twice" in refusal(*base, "--label", "a", "--label", " a")


@pytest.mark.timeout(120)  # without the lock the second session would serve its page until stopped
def test_a_second_session_on_the_same_labels_file_is_refused_naming_the_first(tmp_path: Path) -> None:
    import os

    from tasuki.plugin import hold_lock

    pool = tmp_path / "pool.txt"
    pool.write_text("a\nb\n", encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    out.write_text('{"text": "a", "label": "sport"}\n', encoding="utf-8")
    first = hold_lock(tmp_path / ".labels.jsonl.tasuki.lock", "held")  # a session that is running
    try:
        said = refusal("label", pool, "--task", "classify", "--labels", ",".join(LABELS), "--output", out)
    finally:
        first.release()
    assert f"--output {out} is being labelled by another tasuki label (pid {os.getpid()} on " in said
    assert out.read_text(encoding="utf-8") == '{"text": "a", "label": "sport"}\n'  # nothing lost, nothing added


def test_labels_are_checked() -> None:
    assert check_labels(" pos , neg ") == ["pos", "neg"]
    with pytest.raises(DataError, match="two or more"):
        check_labels("pos,,neg")
    with pytest.raises(DataError, match=r"--labels: 'None' is how a missing value is written .* e.g. 'no_label'"):
        check_labels("pos,None")  # every answer with it would be refused by training


def test_a_multi_label_file_is_what_tasuki_train_reads(tmp_path: Path, backbone: Path) -> None:
    import tasuki

    if classify_plugin() is None:
        pytest.skip("the classify plugin is not installed")

    store = LabelStore(tmp_path / "labels.jsonl", LABELS, multi_label=True)
    for text, labels in (("football match", ["sport"]), ("senate vote", ["politics"]), ("rain", ["weather"]),
                         ("rain stops the match", ["sport", "weather"]), ("the cup", ["sport"]), ("a poll", [])):
        store.append(text, labels)
    cuts = {"sport": 0.2, "politics": 0.9, "weather": 0.5}
    result = tasuki.train("classify", str(store.path), backbone=str(backbone), output_dir=tmp_path / "m", max_steps=2,
                          eval_split=0, checkpoints=False, progress=False, task_options={"thresholds": cuts})
    model = tasuki.load(result.output_dir)
    assert model.task.multi_label and sorted(model.task.labels) == sorted(LABELS)
    assert "labels" in model.predict("rain")

    # the page's guesses and the uncertainty of each text follow the model's own thresholds, not 0.5
    texts = ["rain at the match", "a vote", "sunny"]
    scores = probabilities(model, texts)
    assert scores.thresholds.tolist() == [cuts[label] for label in scores.labels]
    predicted = model.predict(texts)
    assert [g for g, _ in scores.guesses] == ["|".join(c["label"] for c in p["labels"]) for p in predicted]
    by_hand = [min((s - cuts[name]) / (1 - cuts[name]) if s >= cuts[name] else (cuts[name] - s) / cuts[name]
                   for name, s in p["scores"].items()) for p in predicted]
    assert margins(scores.probs, True, scores.thresholds) == pytest.approx(by_hand)


def test_an_exclude_file_without_texts_is_refused(tmp_path: Path) -> None:
    pool = tmp_path / "pool.txt"
    pool.write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "done.jsonl").write_text('{"sentence": "a", "label": "x"}\n', encoding="utf-8")
    line = refusal("label", "suggest", "--data", pool, "--exclude", tmp_path / "done.jsonl", "-k", 1, "--output",
                   tmp_path / "n.csv", "--strategy", "random")
    assert "done.jsonl: missing column 'text'; found columns: sentence, label" in line
    assert not (tmp_path / "n.csv").exists()


def _settle(session: Session) -> None:
    """Wait for the session's choice in progress, if any (the thread clears ``choosing`` as it ends)."""
    thread = session.choosing
    if thread is not None:
        thread.join()


def test_the_next_texts_are_chosen_ahead_never_twice_and_a_new_choice_keeps_the_shown_text(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl", LABELS, multi_label=False)
    session = Session([f"t{i}" for i in range(10)], store, strategy="random", batch=4)
    session.start_choosing()
    _settle(session)
    assert len(session.queue) == 4
    for _ in range(3):
        session.answer(session.item, "sport")
    session.state()  # one text left of the batch (4 // 4): the next batch is chosen now, not when it runs out
    _settle(session)
    assert len(session.queue) == 5 and len(set(session.queue)) == 5 and not set(session.queue) & store.texts
    shown = session.queue[0]
    session.start_choosing(replace=True)  # what a new model does
    _settle(session)
    assert session.queue[0] == shown and len(session.queue) == 5 and len(set(session.queue)) == 5
    while session.queue:
        session.answer(session.item, "weather")
        session.state()
        _settle(session)
    assert store.texts == {f"t{i}" for i in range(10)} and len(store.rows) == 10


@pytest.mark.parametrize("with_model", [False, True])
def test_a_typical_session_covers_the_labelled_texts_clusters_on_the_backbones_vectors(
        tmp_path: Path, backbone: Path, model_dir: Path, with_model: bool) -> None:
    """typical clusters the backbone's vectors before any model, and the model's encoder's beside them after."""
    import tasuki
    from conftest import POLITICS, SPORT, WEATHER
    from tasuki_label.pool import embed
    from tasuki_label.selection import select

    store = LabelStore(tmp_path / "labels.jsonl", LABELS, multi_label=False)
    store.append(SPORT[0], "sport")
    store.append(SPORT[1], "sport")
    pool = SPORT + POLITICS + WEATHER
    model = tasuki.load(model_dir, device="cpu") if with_model else None
    session = Session(pool, store, strategy="typical", batch=3, backbone=str(backbone), model=model)
    assert session.state()["strategy"] == "typical"  # no model needed
    chosen = session.choose_now(replace=False)
    left = [t for t in pool if t not in store.texts]
    def unit(rows: np.ndarray) -> np.ndarray:
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def vectors(texts: list[str]) -> np.ndarray:
        return np.hstack([unit(embed(texts, backbone=str(backbone)))] + ([unit(embed(texts, model=model))] if model else []))

    expected = select(vectors(left), 3, "typical", seed=session.seed + 2, labelled=vectors(SPORT[:2]))
    assert chosen == [left[p.index] for p in expected]
    if model is not None:  # a new model keeps the backbone's vectors and drops the old model's
        backbone_vectors = dict(session._vectors["backbone"])
        session.start_choosing = lambda replace=False: None  # no choice in the background while we look
        session._load(model_dir)
        assert session._vectors["backbone"] == backbone_vectors and session._vectors["model"] == {}
