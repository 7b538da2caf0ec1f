"""Next-sentence prediction, the optional second objective: sentence pairs, 50% random, the pre-training head."""

from __future__ import annotations

import tasuki.api as api
from conftest import news_corpus
from tasuki_mlm.nsp import IS_NEXT, RANDOM_NEXT, sentence_pairs, split_sentences
from tasuki_mlm.task import MaskedLMTask


def _documents(count: int = 60) -> list[str]:
    return [". ".join(" ".join(t.split()[i : i + 6]) for i in range(0, 40, 6)) + "." for t in news_corpus(count)]


def test_sentences_split_english_and_japanese() -> None:
    assert split_sentences("It rose. Then it fell!\nNew line") == ["It rose.", "Then it fell!", "New line"]
    assert split_sentences("株価が上がった。その後下がった。") == ["株価が上がった。", "その後下がった。"]


def test_pairs_are_half_random_and_real_continuations_otherwise(tiny_tokenizer) -> None:
    texts = [
        " ".join(f"doc{d} sentence {s} ends here." for s in range(8)) for d in range(200)
    ]
    pairs = sentence_pairs(texts, tiny_tokenizer, max_length=32)
    labels = [label for _, _, label in pairs]
    assert abs(labels.count(RANDOM_NEXT) / len(labels) - 0.5) < 0.05
    for a, b, label in pairs:
        same_doc = a.split()[0] == b.split()[0]
        assert same_doc == (label == IS_NEXT)  # a random B comes from another document
    assert pairs == sentence_pairs(texts, tiny_tokenizer, max_length=32)  # deterministic


def test_nsp_objective_trains_through_the_runner(tiny_backbone, tmp_path) -> None:
    rows = [{"text": t} for t in _documents()]
    result = api.train("mlm", rows, backbone=str(tiny_backbone), output_dir=tmp_path / "nsp", max_steps=4,
                       max_length=32, batch_size=8, progress=False, save_steps=0, task_options={"nsp": True})
    assert 0.0 <= result.metrics["nsp_accuracy"] <= 1.0 and "perplexity" in result.metrics
    model = api.load(tmp_path / "nsp", device="cpu")
    assert type(model.model).__name__ == "BertForPreTraining"
    assert len(model.predict("the market [MASK] sharply")) == 5


def test_nsp_features_carry_segments(tiny_tokenizer) -> None:
    out = MaskedLMTask(nsp=True, whole_word=True).encode({"text": _documents(10)}, tiny_tokenizer, max_length=32)
    assert len(out["input_ids"]) == len(out["token_type_ids"]) == len(out["next_sentence_label"]) > 0
    for ids, types, words in zip(out["input_ids"], out["token_type_ids"], out["word_ids"]):
        assert len(ids) <= 32 and 1 in types and ids.count(tiny_tokenizer.sep_token_id) == 2
        first_b = types.index(1)
        a_words = {w for w in words[:first_b] if w >= 0}
        b_words = {w for w in words[first_b:] if w >= 0}
        assert not a_words & b_words  # word numbers do not collide across segments
