"""Prediction: the same entities as transformers' pipeline, offsets into the text, long texts in windows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tasuki_ner.aggregate import aggregate, merge_windows
from tasuki_ner.inference import predict_entities
from tasuki_ner.task import NerTask

LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
TEXTS = [
    "Barack Obama visited Paris and London.",
    "Google met Sony in Tokyo, said Xavier Quintrell.",
    "microsoft",
    "The U.S. embassy in Paris closed.",
]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, tiny_en):
    """A randomly initialised token-classification head on the tiny BERT, saved like tasuki saves it."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    directory = tmp_path_factory.mktemp("ner_model")
    task = NerTask(labels=LABELS)
    torch.manual_seed(3)
    model = AutoModelForTokenClassification.from_pretrained(tiny_en, **task.model_config())
    with torch.no_grad():  # make non-O labels common, so that there are entities to compare
        model.classifier.bias.copy_(torch.tensor([-1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]))
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(tiny_en).save_pretrained(directory)
    return directory, task, model


def _pipeline(directory, strategy):
    from transformers import pipeline

    return pipeline("token-classification", model=str(directory), aggregation_strategy=strategy, device=-1)


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_same_entities_as_the_pipeline(saved_model, tokenizer_en, strategy):
    directory, task, model = saved_model
    task.aggregation = strategy
    ours = predict_entities(task, model, tokenizer_en, TEXTS, max_length=128)
    theirs = _pipeline(directory, strategy)(TEXTS)
    key = "entity" if strategy == "none" else "entity_group"
    assert sum(len(x) for x in ours) > 5
    for text, a, b in zip(TEXTS, ours, theirs):
        assert [(e["type"], e["start"], e["end"]) for e in a] == [(e[key], e["start"], e["end"]) for e in b]
        assert np.allclose([e["score"] for e in a], [float(e["score"]) for e in b], atol=1e-5)
        assert all(e["text"] == text[e["start"] : e["end"]] for e in a)


def test_long_text_is_windowed_not_truncated(saved_model, tokenizer_en):
    _, task, model = saved_model
    task.aggregation = "simple"
    text = " ".join(["Obama visited Paris."] * 25)  # 100 tokens: one window at 128; at 24, 22 tokens a window
    rows = task.examples_from_inputs([text])
    from tasuki_ner.inference import run_model

    assert len(run_model(task, model, tokenizer_en, rows, max_length=24)[1]) == 9  # overlap 11, step 11
    long = predict_entities(task, model, tokenizer_en, [text], max_length=24)[0]
    assert max(e["end"] for e in long) > len(text) - 25  # entities near the end are found
    # every token of the text gets scores, with the same offsets as in one pass
    merged = {}
    for max_length in (24, 128):
        outputs, features, examples = run_model(task, model, tokenizer_en, rows, max_length=max_length)
        merged[max_length] = next(task._per_example(outputs, features, examples))[1]
    assert merged[24]["logits"].shape == merged[128]["logits"].shape == (100, len(LABELS))
    assert (merged[24]["offsets"] == merged[128]["offsets"]).all()
    assert np.abs(merged[24]["logits"]).sum(axis=1).min() > 0  # no token left without a prediction


def test_merge_windows_keeps_the_most_central_prediction():
    a = np.array([[0.0, 0], [1, 0], [1, 0], [1, 0], [0, 0]])  # positions -1,0,1,2,-1
    b = np.array([[0.0, 0], [0, 1], [0, 1], [0, 1], [0, 0]])  # positions -1,1,2,3,-1
    merged = merge_windows([([-1, 0, 1, 2, -1], a[:, :2]), ([-1, 1, 2, 3, -1], b[:, :2])])
    # token 1 is central in window a, token 2 in window b
    assert merged.argmax(axis=1).tolist() == [0, 0, 1, 1]


def test_aggregate_groups_like_the_pipeline():
    text = "Ann Lee met Bob"
    probs = np.eye(3)[[1, 2, 0, 1]] * 0.9 + 0.05  # B-PER I-PER O B-PER over 4 tokens
    offsets = [(0, 3), (4, 7), (8, 11), (12, 15)]
    out = aggregate(text, probs, offsets, [0, 1, 2, 3], {0: "O", 1: "B-PER", 2: "I-PER"}, "simple")
    assert [(e["text"], e["type"], e["start"], e["end"]) for e in out] == [("Ann Lee", "PER", 0, 7), ("Bob", "PER", 12, 15)]
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate(text, probs, offsets, [0, 1, 2, 3], {0: "O", 1: "B-PER", 2: "I-PER"}, "mean")


@pytest.mark.parametrize("strategy", ["none", "simple", "first"])
@pytest.mark.parametrize("space_tag", [1, 2])  # the bare space: an entity alone (B-PER), or the end of Bob's (I-PER)
def test_sentencepiece_offsets_give_spans_without_the_space(strategy: str, space_tag: int) -> None:
    """XLM-R / E5 tokens (``▁Lee``) have the offsets of the space before them: entities started with it
    (" Lee", start 3). A token that is only the space (``▁`` before ``.``) is no entity of its own, and no
    entity ends with it."""
    text = "Ann Lee met Bob ."
    # ▁Ann ▁Lee ▁met ▁Bob ▁ .  (offsets as the e5-small tokenizer gives them)
    offsets = [(0, 3), (3, 7), (7, 11), (11, 15), (15, 16), (16, 17)]
    tags = [1, 2, 0, 1, space_tag, 0]  # B-PER I-PER O B-PER (B|I)-PER O
    probs = np.eye(3)[tags] * 0.9 + 0.05
    out = aggregate(text, probs, offsets, [0, 1, 2, 3, -1, 4], {0: "O", 1: "B-PER", 2: "I-PER"}, strategy)
    spans = [(e["text"], e["start"], e["end"]) for e in out]
    if strategy == "none":
        assert spans == [("Ann", 0, 3), ("Lee", 4, 7), ("Bob", 12, 15)]
    else:
        assert spans == [("Ann Lee", 0, 7), ("Bob", 12, 15)]
    assert all(text[e["start"]:e["end"]] == e["text"] for e in out)


@pytest.mark.parametrize("strategy", ["none", "simple"])
def test_tokens_over_the_same_characters_make_one_entity(strategy: str) -> None:
    """The bare ``▁`` before a word SentencePiece cannot join (``ｵｵｻｶ``) has that word's first character's
    offsets, and the three pieces of ``㈱`` (NFKC ``(株)``) all have ``㈱``'s: tagged ``B-`` piece by piece, they
    made ``ｵ`` and ``ｵｵｻｶ`` (or ``㈱`` twice) overlapping entities. The first piece's tag decides."""
    text = "㈱田中は　ｵｵｻｶに"
    # ▁( 株 ) 田 中 は ▁ ｵ ｵ ｻ ｶ に  (offsets as e5-small gives them for these MeCab words)
    offsets = [(0, 1), (0, 1), (0, 1), (1, 2), (2, 3), (3, 4), (5, 6), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10)]
    # B-ORG on every piece of ㈱ and on ▁ and ｵ: each started an entity of its own
    tags = [1, 1, 1, 2, 2, 0, 3, 3, 4, 4, 4, 0]
    probs = np.eye(5)[tags] * 0.9 + 0.02
    id2label = {0: "O", 1: "B-ORG", 2: "I-ORG", 3: "B-LOC", 4: "I-LOC"}
    out = aggregate(text, probs, offsets, list(range(len(offsets))), id2label, strategy)
    spans = [(e["text"], e["start"], e["end"]) for e in out]
    if strategy == "none":
        assert spans == [("㈱", 0, 1), ("田", 1, 2), ("中", 2, 3), ("ｵ", 5, 6), ("ｵ", 6, 7), ("ｻ", 7, 8), ("ｶ", 8, 9)]
    else:
        assert spans == [("㈱田中", 0, 3), ("ｵｵｻｶ", 5, 9)]
    # no two entities share a character
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(out))
