"""``--task classify-pairs``: a pair of texts is the unit of the pool, the labels file, the session, ``suggest``,
the page and the background rounds."""

from __future__ import annotations

import csv
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import PAIRS, classify_plugin
from tasuki.plugin import DataError
from tasuki.testing import refusal, run_cli
from tasuki_label.pool import embed, probabilities, read_texts
from tasuki_label.session import Session
from tasuki_label.store import LabelStore

LABELS = ["same", "different"]
ITEMS = [(r["text"], r["text_pair"]) for r in PAIRS]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_a_pair_is_the_unit_of_the_labels_file_undo_and_restart(tmp_path: Path, backbone: Path) -> None:
    store = LabelStore(tmp_path / "pairs.jsonl", LABELS, multi_label=False, pairs=True)
    store.append(("a vote", "senate vote"), "same")
    store.append(("a vote", "snow"), "different")  # the same first text, another pair
    assert _lines(store.path) == [{"text": "a vote", "text_pair": "senate vote", "label": "same"},
                                  {"text": "a vote", "text_pair": "snow", "label": "different"}]
    with pytest.raises(DataError, match=r"the last answer is not \('a vote', 'senate vote'\)"):
        store.remove_last(("a vote", "senate vote"))
    store.remove_last(("a vote", "snow"))
    assert store.texts == {("a vote", "senate vote")}
    for row in PAIRS:
        store.append((row["text"], row["text_pair"]), row["label"])
    again = LabelStore(store.path, LABELS, multi_label=False, pairs=True)  # a restart reads the same
    assert again.rows == store.rows and again.texts == store.texts

    if classify_plugin() is None:
        pytest.skip("the classify plugin is not installed")
    # the file is an ordinary training file for the pair task, end to end through the CLI
    code, _, err = run_cli("train", "classify-pairs", "--data", store.path, "--output", tmp_path / "m", "--backbone",
                           backbone, "--max-steps", 2, "--eval-split", 0, "--no-progress", "--no-checkpoints")
    assert code == 0, err
    import tasuki

    model = tasuki.load(tmp_path / "m")
    assert model.task.name == "classify-pairs" and sorted(model.task.labels) == sorted(LABELS)
    scores = probabilities(model, [("rain", "snow"), ("a vote", "the cup match")])  # the page's guesses
    assert scores.probs.shape == (2, 2) and scores.guesses[0][0] in LABELS


def test_a_labels_file_row_without_its_second_text_is_refused_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"text": "a", "text_pair": "b", "label": "same"}\n{"text": "a", "label": "same"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"row 2, column 'text_pair': expected a non-empty text, got None"):
        LabelStore(path, LABELS, multi_label=False, pairs=True)


def test_the_pool_of_pairs_merges_duplicates_and_refuses_holes_naming_the_row(tmp_path: Path) -> None:
    pool = _write(tmp_path / "pool.csv", [["Q1", "Q2"], ["a", "b"], ["a", "c"], ["a", "b"], ["c", "a"]])
    assert read_texts(pool, "Q1", pair="Q2") == [("a", "b"), ("a", "c"), ("c", "a")]  # a pair twice is one pair
    holed = _write(tmp_path / "holed.csv", [["text", "text_pair"], ["a", "b"], ["c", " "]])
    with pytest.raises(DataError, match=r"row 2, column 'text_pair': expected a non-empty text, got ' '"):
        read_texts(holed, pair="text_pair")
    single = _write(tmp_path / "single.csv", [["text"], ["a"]])
    with pytest.raises(DataError, match=r"missing column 'text_pair'; found columns: text\. Map yours with "
                                        r"--column text_pair="):
        read_texts(single, pair="text_pair")


def test_a_session_of_pairs_answers_skips_undoes_and_restarts(tmp_path: Path, backbone: Path,
                                                               pair_model_dir: Path) -> None:
    import tasuki

    store = LabelStore(tmp_path / "pairs.jsonl", LABELS, multi_label=False, pairs=True)
    model = tasuki.load(pair_model_dir, device="cpu")
    session = Session(ITEMS[:4], store, strategy="uncertainty", batch=2, backbone=str(backbone), model=model,
                      task="classify-pairs")
    chosen = session.choose_now()  # the pair model's class scores, on its encoder's vectors of the pairs
    assert len(chosen) == 2 and set(chosen) <= set(ITEMS[:4])
    session.queue = list(ITEMS[:4])
    view = session.state()
    assert view["pairs"] and view["item"]["text"] == ITEMS[0][0] and view["item"]["text_pair"] == ITEMS[0][1]
    assert view["item"]["guess"]["label"] in LABELS  # the model's guess once a model exists
    session.answer(session.item, "same")
    session.skip(session.item)
    session.undo()  # the skip
    session.answer(session.item, "same")
    session.undo()  # the answer: off the file too
    session.answer(session.item, "different")
    assert _lines(store.path) == [{"text": ITEMS[0][0], "text_pair": ITEMS[0][1], "label": "same"},
                                  {"text": ITEMS[1][0], "text_pair": ITEMS[1][1], "label": "different"}]
    assert session.counts() == {"labelled": 2, "outside": 0, "twice": 0, "skipped": 0, "remaining": 2, "pool": 4}

    restarted = Session(ITEMS[:4], LabelStore(store.path, LABELS, multi_label=False, pairs=True), strategy="typical",
                        batch=4, backbone=str(backbone), task="classify-pairs")
    assert restarted.remaining() == ITEMS[2:4]  # a labelled pair is never asked again
    assert sorted(restarted.choose_now()) == sorted(ITEMS[2:4])  # typical on the backbone's vectors of the pairs


def test_a_pair_is_embedded_as_the_tokenizers_text_pair(backbone: Path) -> None:
    import torch

    from tasuki.plugin import resolve_backbone

    chosen = resolve_backbone(str(backbone))
    encoder, tokenizer = chosen.encoder(), chosen.tokenizer
    batch = tokenizer(["rain", "a vote"], ["wind and rain", "snow"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = encoder(**batch).last_hidden_state  # (B, T, H)
    mask = batch["attention_mask"].unsqueeze(-1).float()
    by_hand = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    assert np.allclose(embed([("rain", "wind and rain"), ("a vote", "snow")], backbone=str(backbone)), by_hand, atol=1e-5)


def test_suggest_writes_both_texts_of_each_pair(tmp_path: Path, backbone: Path, pair_model_dir: Path) -> None:
    pool = _write(tmp_path / "pool.csv", [["Q1", "Q2"], *map(list, ITEMS), list(ITEMS[0])])
    done = tmp_path / "done.jsonl"
    done.write_text("".join(json.dumps(r) + "\n" for r in PAIRS[:3]), encoding="utf-8")
    columns = ["--column", "text=Q1", "--column", "text_pair=Q2"]
    code, out, err = run_cli("label", "suggest", "--task", "classify-pairs", "--data", pool, "--exclude", done, "-k", 4,
                             "--output", tmp_path / "next.csv", "--backbone", backbone, "--model", pair_model_dir,
                             "--strategy", "uncertainty", *columns)
    assert code == 0, err
    with (tmp_path / "next.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["text", "text_pair", "cluster", "guess", "confidence", "margin"]
    picked = [(r["text"], r["text_pair"]) for r in rows]
    assert len(set(picked)) == 4 and set(picked) <= set(ITEMS[3:]) and "4 pairs (uncertainty)" in out
    assert all(r["guess"] in LABELS for r in rows)
    line = refusal("label", "suggest", "--task", "classify-pairs", "--data", pool, "-k", 2, "--output",
                   tmp_path / "n.csv", "--strategy", "random")
    assert "missing column 'text'; found columns: Q1, Q2. Map yours with --column text=" in line


def test_pair_refusals_are_one_line(tmp_path: Path) -> None:
    pool = _write(tmp_path / "pool.csv", [["text", "text_pair"], ["a", "b"]])
    base = ["label", pool, "--labels", "same,different", "--output", tmp_path / "pairs.jsonl"]
    line = refusal(*base, "--task", "classify-pairs", "--option", "multi_label=true")
    assert "multi_label: --task classify-pairs labels one class per pair; multi-label pairs are not supported" in line
    assert "the page labels classes, not scores" in refusal(*base, "--task", "classify-pairs", "--option",
                                                            "regression=true")
    line = refusal(*base, "--task", "classify", "--column", "text_pair=b")
    assert "'text_pair' is not a column tasuki label reads for --task classify" in line
    assert not (tmp_path / "pairs.jsonl").exists()


@pytest.fixture()
def page(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The page's server over a session of pairs, in this process (``random``: no encoder to wait for)."""
    from tasuki_label.page import LabelServer

    store = LabelStore(tmp_path / "pairs.jsonl", LABELS, multi_label=False, pairs=True)
    session = Session(ITEMS[:3], store, strategy="random", batch=3, task="classify-pairs")
    session.start_choosing()
    thread = session.choosing  # None once the choice has ended
    if thread is not None:
        thread.join()
    server = LabelServer(("127.0.0.1", 0), session)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store.path
    finally:
        server.shutdown()
        server.server_close()


def _call(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="GET" if body is None else "POST")) as r:
        return json.loads(r.read())


def test_the_page_over_http_answers_skips_and_undoes_pairs(page: tuple[str, Path]) -> None:
    url, path = page
    with urllib.request.urlopen(url + "/") as response:
        assert 'part("second", item.text_pair)' in response.read().decode()  # the page draws a pair as two texts
    view = _call(url + "/state")
    first = view["item"]
    assert view["pairs"] and (first["text"], first["text_pair"]) in ITEMS[:3]
    view = _call(url + "/answer", {"item": first["id"], "label": "same"})
    assert _lines(path) == [{"text": first["text"], "text_pair": first["text_pair"], "label": "same"}]
    second = view["item"]
    view = _call(url + "/skip", {"item": second["id"]})
    assert view["skipped"] == 1 and view["item"]["id"] != second["id"]
    view = _call(url + "/undo", {})  # the skip
    assert (view["item"]["text"], view["item"]["text_pair"]) == (second["text"], second["text_pair"])
    view = _call(url + "/undo", {})  # the answer
    assert (view["item"]["text"], view["item"]["text_pair"]) == (first["text"], first["text_pair"])
    assert _lines(path) == [] and view["labelled"] == 0
    with pytest.raises(urllib.error.HTTPError) as refused:
        _call(url + "/answer", {"item": view["item"]["id"], "label": "similar"})
    assert refused.value.code == 422 and "unknown label 'similar'" in json.loads(refused.value.read())["error"]


@pytest.mark.timeout(600)
def test_a_background_round_trains_the_pair_task(tmp_path: Path, backbone: Path) -> None:
    import time

    import tasuki
    from tasuki_label.trainer import Trainer

    store = LabelStore(tmp_path / "pairs.jsonl", LABELS, multi_label=False, pairs=True)
    fast = ["--backbone", str(backbone), "--max-steps", "4", "--batch-size", "8", "--option", "regression=false"]
    trainer = Trainer(store, tmp_path / "rounds", every=8, folds=2, train_args=fast, task="classify-pairs")
    for row in PAIRS[:4] + PAIRS[6:10]:
        store.append((row["text"], row["text_pair"]), row["label"])
    assert trainer.after_answer()
    deadline = time.monotonic() + 540
    while trainer.running is not None and time.monotonic() < deadline:
        found = trainer.poll()
        time.sleep(0.5)
    assert trainer.error is None and found == tmp_path / "rounds" / "round-0001" / "model"
    result = json.loads((found.parent / "round.json").read_text(encoding="utf-8"))
    assert result["labels"] == 8 and len(result["cv_folds"]) == 2  # cross-validated on held-out pairs
    assert tasuki.load(found).task.name == "classify-pairs"
