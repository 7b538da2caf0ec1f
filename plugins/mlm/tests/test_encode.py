"""Blocks, line-by-line features, word ids (English from the tokenizer, Japanese from MeCab), collate."""

from __future__ import annotations

import pytest
import torch

from tasuki.errors import DataError
from tasuki.japanese import split_words
from tasuki.testing import tiny_bert
from tasuki_mlm.masking import IGNORE_INDEX
from tasuki_mlm.task import GROUPS, MaskedLMTask


def test_concatenate_and_chunk_gives_full_blocks(tiny_tokenizer) -> None:
    task = MaskedLMTask()
    texts = ["the market rose sharply"] * 30  # 4 tokens + [SEP] each: 150 tokens in the stream
    ids = tiny_tokenizer("the market rose sharply", add_special_tokens=False)["input_ids"]
    cls, sep = tiny_tokenizer.cls_token_id, tiny_tokenizer.sep_token_id
    stream = [*ids, sep] * 30
    out = task.encode({"text": texts}, tiny_tokenizer, max_length=16)
    assert len(out["input_ids"]) == 150 // 14  # the last partial block is dropped
    for k, block in enumerate(out["input_ids"]):
        chunk = stream[14 * k : 14 * k + 14]
        if chunk[-1] == sep:
            chunk = chunk[:-1]  # a block ending on a document boundary has one [SEP], not two
        assert block == [cls, *chunk, sep]


def test_small_batch_keeps_a_short_block(tiny_tokenizer) -> None:
    out = MaskedLMTask().encode({"text": ["the market rose"]}, tiny_tokenizer, max_length=64)
    assert len(out["input_ids"]) == 1
    assert tiny_tokenizer.decode(out["input_ids"][0], skip_special_tokens=True) == "the market rose"


def test_line_by_line_is_one_truncated_feature_per_text(tiny_tokenizer) -> None:
    task = MaskedLMTask(line_by_line=True)
    out = task.encode({"text": ["the market rose", "a " * 50]}, tiny_tokenizer, max_length=16)
    assert [len(x) for x in out["input_ids"]] == [5, 16]


def test_english_whole_words_follow_the_tokenizer(tiny_tokenizer) -> None:
    task = MaskedLMTask(whole_word=True, line_by_line=True)
    text = "unbelievable stocks zyx"  # 'zyx' is not in the vocab: several ## pieces, one word
    out = task.encode({"text": [text]}, tiny_tokenizer, max_length=32)
    tokens = tiny_tokenizer.convert_ids_to_tokens(out["input_ids"][0])
    words = out["word_ids"][0]
    assert words[0] == -1 and words[-1] == -1
    pieces = [w for t, w in zip(tokens, words) if t in ("z", "##y", "##x")]
    assert len(pieces) == 3 and len(set(pieces)) == 1


def test_japanese_whole_words_come_from_mecab(tmp_path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert(tmp_path, japanese=True))
    text = "東京都の会社で映画を見ました。"
    task = MaskedLMTask(lang="ja", whole_word=True)
    out = task.encode({"text": [text]}, tokenizer, max_length=64)
    ids, word_ids = out["input_ids"][0], out["word_ids"][0]
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert ids[1:-1] == encoded["input_ids"]  # one short block: [CLS] text [SEP]
    mecab = split_words(text)
    # BERT's basic tokenizer splits CJK into single characters, so its own word ids are per character;
    # the groups must instead follow MeCab words: tokens of one MeCab word share one number.
    own = tokenizer(text, add_special_tokens=False).word_ids()
    assert own[0] != own[1]  # the tokenizer: 東 | 京 are two words
    for (start, _end), word in zip(encoded["offset_mapping"], word_ids[1:-1]):
        owner = next(i for i, w in enumerate(mecab) if w.start <= start < w.end)
        assert word == owner
    multi = [w for w in mecab if w.end - w.start > 1]
    assert multi, "the sentence should have multi-character MeCab words"
    assert word_ids[1] == word_ids[2]  # MeCab: 東京 is one word
    assert len(set(word_ids[1:-1])) == len(mecab) < len(encoded["input_ids"])


def test_collate_masks_and_keeps_groups(tiny_tokenizer) -> None:
    task = MaskedLMTask(whole_word=True)
    out = task.encode({"text": ["the market rose sharply and stocks fell"] * 40}, tiny_tokenizer, max_length=32)
    features = [{k: out[k][i] for k in out} for i in range(len(out["input_ids"]))]
    torch.manual_seed(0)
    batch = task.collate(features, tiny_tokenizer)
    chosen = batch["labels"] != IGNORE_INDEX
    assert chosen.any()
    specials = torch.isin(batch["input_ids"], torch.tensor(tiny_tokenizer.all_special_ids)) & (
        batch["input_ids"] != tiny_tokenizer.mask_token_id
    )
    assert not chosen[specials].any()
    assert (batch[GROUPS][specials] == -1).all()
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape


def test_fill_mask_queries_are_not_masked_again(tiny_tokenizer) -> None:
    task = MaskedLMTask()
    rows = task.examples_from_inputs("the [MASK] rose")
    out = task.encode({k: [r[k] for r in rows] for k in rows[0]}, tiny_tokenizer, max_length=32)
    batch = task.collate([{k: out[k][0] for k in out}], tiny_tokenizer)
    assert "labels" not in batch
    assert (batch["input_ids"] == tiny_tokenizer.mask_token_id).sum() == 1


def test_fill_mask_postprocess_decodes_with_the_context_tokenizer(tiny_tokenizer) -> None:
    """postprocess keeps nothing from encode (it may run in a worker, or be cached): a fresh task decodes."""
    import numpy as np
    from datasets import Dataset

    from tasuki.task import PredictionContext

    rows = MaskedLMTask().examples_from_inputs("the [MASK] rose")
    features = MaskedLMTask().encode({k: [r[k] for r in rows] for k in rows[0]}, tiny_tokenizer, max_length=32)
    market = tiny_tokenizer.convert_tokens_to_ids("market")
    length = len(features["input_ids"][0])
    outputs = [{"top_ids": np.full((length, 1), market), "top_scores": np.ones((length, 1))}]
    fresh = MaskedLMTask()  # never encoded anything
    with pytest.raises(TypeError, match="needs context="):
        fresh.postprocess(outputs, Dataset.from_dict(features), Dataset.from_list(rows))
    context = PredictionContext(tokenizer=tiny_tokenizer, max_length=32)
    [[best]] = fresh.postprocess(outputs, Dataset.from_dict(features), Dataset.from_list(rows), context=context)
    assert (best["token"], best["token_str"], best["sequence"]) == (market, "market", "the market rose")


def test_fill_mask_query_without_mask_is_an_error(tiny_tokenizer) -> None:
    task = MaskedLMTask()
    rows = task.examples_from_inputs(["the market rose"])
    with pytest.raises(DataError, match=r"input 1: no \[MASK\] token"):
        task.encode({k: [r[k] for r in rows] for k in rows[0]}, tiny_tokenizer, max_length=32)


@pytest.mark.parametrize("value", [0.0, 1.0, 2.0, -0.5])
def test_task_rejects_probability_outside_zero_one(value: float) -> None:
    with pytest.raises(ValueError, match="'mlm_probability': .* is not allowed; allowed: a number > 0 and < 1"):
        MaskedLMTask(mlm_probability=value)
