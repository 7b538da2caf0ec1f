"""Long texts in windows: the arithmetic, the aggregation against the model run by hand on each window, every
surface giving the document's answer, refusals, and a label only the last sentence carries."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

import tasuki
from tasuki.plugin import SettingError
from tasuki.testing import refusal
from tasuki_classify.task import ClassifyTask
from tasuki_classify.windows import aggregate, window_starts

SHORT = [{"text": t, "label": lab} for t, lab in [
    ("football match goal", "sports"), ("election vote senate", "politics"), ("quiet morning garden", "home")]] * 4
TOPICS = {"football": "sports", "goal": "sports", "election": "politics", "senate": "politics"}
MULTI = [{"text": t, "label": [TOPICS[w] for w in t.split() if w in TOPICS]} for t in [
    "football match", "election vote", "football election", "quiet morning"]] * 4
FAST = {"batch_size": 8, "learning_rate": 3e-3, "max_length": 16, "progress": False, "checkpoints": False}


def long_texts(seed: int = 0, count: int = 6) -> list[str]:
    """Texts of 20 to 80 words of the tiny vocabulary: 1 to 8 windows of 16 tokens."""
    rng = random.Random(seed)
    words = [*TOPICS, "match", "vote", "quiet", "morning", "garden", "tea"]
    return [" ".join(rng.choices(words, k=rng.randint(20, 80))) for _ in range(count)] + ["tea garden"]


def by_hand(model: tasuki.TrainedModel, text: str, stride: int, length: int | None = None) -> np.ndarray:
    """Each window's logits ``(W, L)``, windows of ``length`` tokens (else ``max_length``) cut here from the text's
    tokens and run through the torch model."""
    import torch

    tokenizer, size = model.tokenizer, (length or model.max_length) - 2  # [CLS] ... [SEP]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    step = size - stride
    rows = []
    for start in range(0, max(len(ids) - size, 0) + step, step):
        window = [tokenizer.cls_token_id, *ids[start:start + size], tokenizer.sep_token_id]
        with torch.inference_mode():
            ids_ = torch.tensor([window])
            rows.append(model.model(input_ids=ids_, attention_mask=torch.ones_like(ids_)).logits[0].double().numpy())
    return np.stack(rows)


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory, backbone: Path) -> Path:
    """A single-label model after a few steps: any weights do for checking the arithmetic of the windows."""
    from tasuki.registry import Registry, set_registry
    from tasuki_classify import plugin

    set_registry(Registry([("classify", plugin)], entry_points=False))
    out = tmp_path_factory.mktemp("single") / "model"
    tasuki.train("classify", SHORT, backbone=str(backbone), output_dir=out, eval_split=0.0, max_steps=3, **FAST)
    return out


# --- (3) the arithmetic ------------------------------------------------------------------


def test_windows_start_where_the_worked_example_says(backbone: Path) -> None:
    from transformers import AutoTokenizer

    assert window_starts(20, 6, 2) == [0, 4, 8, 12, 16]  # 5 windows: 0-5, 4-9, 8-13, 12-17, 16-19
    assert window_starts(6, 6, 2) == [0] and window_starts(7, 6, 2) == [0, 4] and window_starts(21, 6, 0) == [0, 6, 12, 18]
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    words = ["football", "match", "goal", "election", "vote"] * 4  # one token each: 20 tokens
    ids = tokenizer(" ".join(words), add_special_tokens=False)["input_ids"]
    assert len(ids) == 20
    task = ClassifyTask(labels=["politics", "sports"], multi_label=False)
    # max_length 8: 6 tokens of text between [CLS] and [SEP]; the default stride is 8 // 4 = 2
    features = task.encode({"text": [" ".join(words), "vote"], "label": ["sports", "politics"]}, tokenizer, 8)
    assert features["example_index"] == [0, 0, 0, 0, 0, 1]
    assert features["labels"] == [1, 1, 1, 1, 1, 0]  # every window carries its text's label
    for start, window in zip([0, 4, 8, 12, 16], features["input_ids"]):
        assert window == [tokenizer.cls_token_id, *ids[start:start + 6], tokenizer.sep_token_id]
    given = ClassifyTask(labels=["politics", "sports"], multi_label=False, window_stride=0)
    assert [w[1:-1] for w in given.encode({"text": [" ".join(words)]}, tokenizer, 8)["input_ids"]] == \
        [ids[0:6], ids[6:12], ids[12:18], ids[18:20]]
    # window_length 6 under max_length 32: 4 tokens of text a window, stride 6 // 4 = 1, so the step is 3; the
    # 20-token text is windowed though it fits max_length, and "vote" (3 tokens with [CLS]/[SEP]) is one window
    short = ClassifyTask(labels=["politics", "sports"], multi_label=False, window_length=6)
    features = short.encode({"text": [" ".join(words), "vote"]}, tokenizer, 32)
    assert window_starts(20, 4, 1) == [0, 3, 6, 9, 12, 15, 18]
    assert [w[1:-1] for w in features["input_ids"][:-1]] == [ids[s:s + 4] for s in (0, 3, 6, 9, 12, 15, 18)]
    assert features["example_index"] == [0] * 7 + [1] and all(len(w) <= 6 for w in features["input_ids"])


def test_aggregate_means_and_maxes_per_document() -> None:
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    owners = np.array([0, 0, 0, 1])
    assert aggregate(scores, owners, 2, "mean") == pytest.approx(np.array([[0.5, 0.5], [0.7, 0.3]]))
    assert aggregate(scores, owners, 2, "max") == pytest.approx(np.array([[0.9, 0.8], [0.7, 0.3]]))
    with pytest.raises(RuntimeError, match="do not cover 3 documents"):
        aggregate(scores, owners, 3, "mean")


# --- (2) predictions are the declared aggregation of the windows' scores ------------------


def test_single_label_scores_are_the_mean_of_the_window_probabilities(single: Path) -> None:
    model = tasuki.load(single, device="cpu")
    assert model.task.options.windows and model.task.options.window_aggregation is None
    texts = long_texts()
    for how in ("mean", "max"):
        model.task.options.window_aggregation = None if how == "mean" else how  # unset: mean for single-label
        predictions = model.predict(texts)
        for text, prediction in zip(texts, predictions):
            logits = by_hand(model, text, stride=16 // 4)
            probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            expected = probs.mean(axis=0) if how == "mean" else probs.max(axis=0)
            assert [prediction["scores"][label] for label in model.task.labels] == pytest.approx(expected, abs=1e-5)
            assert prediction["label"] == model.task.labels[int(expected.argmax())]
    assert len(by_hand(model, texts[0], 4)) > 1 and len(by_hand(model, texts[-1], 4)) == 1  # long and short texts


def test_a_shorter_window_length_is_saved_and_predicts_the_mean_of_its_windows(tmp_path: Path, backbone: Path) -> None:
    out = tmp_path / "model"
    tasuki.train("classify", SHORT, backbone=str(backbone), output_dir=out, eval_split=0.0, max_steps=2,
                 task_options={"window_length": 8}, **FAST)  # max_length 16: windows of 8
    model = tasuki.load(out, device="cpu")
    assert model.task.options.window_length == 8 and model.max_length == 16
    texts = long_texts(seed=1)
    for text, prediction in zip(texts, model.predict(texts)):
        logits = by_hand(model, text, stride=8 // 4, length=8)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        assert [prediction["scores"][label] for label in model.task.labels] == pytest.approx(probs.mean(axis=0),
                                                                                            abs=1e-5)


def test_multi_label_scores_are_the_max_of_the_window_sigmoids(tmp_path: Path, backbone: Path) -> None:
    tasuki.train("classify", MULTI, backbone=str(backbone), output_dir=tmp_path / "m", eval_split=0.0, max_steps=3,
                 task_options={"thresholds": {"politics": 0.5, "sports": 0.5}}, **FAST)
    model = tasuki.load(tmp_path / "m", device="cpu")
    texts = long_texts(seed=1)
    for text, prediction in zip(texts, model.predict(texts)):
        expected = (1 / (1 + np.exp(-by_hand(model, text, stride=4)))).max(axis=0)  # unset: max for multi-label
        assert [prediction["scores"][label] for label in model.task.labels] == pytest.approx(expected, abs=1e-5)
        assert sorted(p["label"] for p in prediction["labels"]) == \
            sorted(label for label, s in zip(model.task.labels, expected) if s >= 0.5)


def test_evaluate_predict_file_serve_and_onnx_answer_per_document(single: Path, tmp_path: Path) -> None:
    model = tasuki.load(single, device="cpu")
    texts = long_texts(seed=2)
    expected = model.predict(texts)
    rows = [{"text": t, "label": "sports"} for t in texts]
    metrics = model.evaluate(rows)  # one count per document, not per window
    assert sum(v for k, v in metrics.items() if k.startswith("confusion/")) == len(texts)
    assert metrics["accuracy"] == pytest.approx(np.mean([p["label"] == "sports" for p in expected]))
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    assert model.predict_file(source, output, chunk_size=3, progress=False) == len(texts)
    written = [json.loads(line)["prediction"] for line in output.read_text(encoding="utf-8").splitlines()]
    assert [p["label"] for p in written] == [p["label"] for p in expected]
    for a, b in zip(written, expected):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-6)
    pytest.importorskip("fastapi")
    import asyncio

    import httpx

    from tasuki.serve import create_app

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app({"m": model}))
        async with httpx.AsyncClient(transport=transport, base_url="http://serve", timeout=60) as client:
            return await client.post("/models/m", json={"inputs": texts})

    served = asyncio.run(post())
    assert served.status_code == 200 and [p["label"] for p in served.json()] == [p["label"] for p in expected]
    for a, b in zip(served.json(), expected):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-6)
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    exported = tasuki.load(tasuki.export(single, tmp_path / "onnx"), device="cpu")  # the graph scores one window
    for a, b in zip(exported.predict(texts), expected):
        assert a["label"] == b["label"] and a["scores"] == pytest.approx(b["scores"], abs=1e-4)


# --- (4) refusals ------------------------------------------------------------------------


def test_bad_window_options_are_refused_in_one_line(backbone: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    with pytest.raises(SettingError, match=r"'window_stride'.*-1.*allowed"):
        ClassifyTask(window_stride=-1)
    with pytest.raises(SettingError, match=r"'window_aggregation'.*'median'.*allowed.*mean.*max"):
        ClassifyTask(window_aggregation="median")
    with pytest.raises(SettingError, match=r"'window_stride': 8 is not allowed with windows=false"):
        ClassifyTask(windows=False, window_stride=8)
    with pytest.raises(SettingError, match=r"'window_length': 32 is not allowed with windows=false"):
        ClassifyTask(windows=False, window_length=32)
    with pytest.raises(SettingError, match=r"'window_length'.*2.*allowed"):
        ClassifyTask(window_length=2)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    for stride in (6, 8, 100):  # max_length 8 leaves 6 tokens of text: at most 5 shared
        with pytest.raises(SettingError, match=rf"'window_stride': {stride} is not allowed with windows of 8 tokens; "
                                               r"allowed: a whole number from 0 to 5"):
            ClassifyTask(window_stride=stride).encode({"text": ["vote"]}, tokenizer, 8)
    data = tmp_path / "train.csv"
    # 80 rows a label: the standard recipe, whose first step is encoding (the few-shot one tunes the encoder first)
    data.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in SHORT * 20), encoding="utf-8")
    out = tmp_path / "out"
    for option, message in [("window_stride=16", "'window_stride': 16 is not allowed with windows of 16 tokens"),
                            ("window_length=17", "'window_length': 17 is not allowed with max_length 16; allowed: a "
                                                 "whole number from 3 to 16"),
                            ("window_stride=-2", "'window_stride'"), ("window_aggregation=median", "'window_aggregation'")]:
        line = refusal("train", "classify", "--data", data, "--backbone", backbone, "--output", out, "--max-length", 16,
                       "--option", option)
        assert message in line and not out.exists(), line


# --- (1) a label only the last sentence carries --------------------------------------------

FILLER = ("river stone cloud paper window garden table lamp chair bottle forest mountain letter ribbon candle mirror "
          "pocket ladder basket kettle").split()
POSITIVE, NEGATIVE = ["good", "great", "nice", "love"], ["bad", "awful", "terrible", "hate"]


def verdict_documents(count: int, seed: int) -> list[dict]:
    """200 random filler words, then "the verdict is WORD": only WORD (one of 4 positive or 4 negative) says the label."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = ("pos", "neg")[i % 2]
        words = [*rng.choices(FILLER, k=200), "the", "verdict", "is", rng.choice(POSITIVE if label == "pos" else NEGATIVE)]
        rows.append({"text": " ".join(words), "label": label})
    return rows


@pytest.mark.slow
def test_a_label_in_the_last_sentence_is_learnt_with_windows_and_lost_to_truncation(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """204 tokens in windows of 64 (stride 16: windows at 0, 46, 92, 138, 184): the verdict is in the last one.

    Measured (seeds 0-3; held-out accuracy on 40 documents):  windows 0.5, 1.0, 1.0, 0.975 (mean 0.87) in the
    development tree, 0.5, 0.9, 0.875, 0.975 (mean 0.81) in a clean clone's tox env; windows=false 0.5 on all.
    Seed 0 stays on the random tiny BERT's saddle (every window scored
    alike, see tests/test_integration.py), as plain PyTorch does on some seeds; the others learn the verdict.
    Truncated, every document's first 62 tokens are filler: no model can do better than chance.
    160 documents: 80 a label, so the standard recipe (end-to-end fine-tuning), whatever the data size picks.
    """
    from tasuki.testing import tiny_bert

    backbone = tiny_bert(tmp_path_factory.mktemp("verdict-bb"), words=[*FILLER, "verdict"])
    accuracy: dict[bool, list[float]] = {True: [], False: []}
    for seed in range(4):
        for windows in (True, False):
            out = tmp_path_factory.mktemp(f"verdict-{seed}-{windows}") / "model"
            tasuki.train("classify", verdict_documents(160, seed), backbone=str(backbone), output_dir=out,
                         eval_split=0.0, epochs=8, seed=seed, batch_size=8, learning_rate=3e-3, max_length=64,
                         progress=False, checkpoints=False, task_options={"windows": windows})
            accuracy[windows].append(tasuki.load(out).evaluate(verdict_documents(40, 100 + seed))["accuracy"])
    assert all(a == pytest.approx(0.5, abs=0.1) for a in accuracy[False]), accuracy
    assert np.mean(accuracy[True]) >= 0.75 and sum(a >= 0.8 for a in accuracy[True]) >= 3, accuracy
