"""Windows over long contexts, answer positions, Japanese character offsets, too-long questions."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from tasuki.errors import DataError
from tasuki.japanese import split_words
from tasuki.testing import tiny_sentencepiece_tokenizer
from tasuki_qa.features import encode_windows
from tasuki_qa.task import example_indices

FILLER = "The river flows north through the dry plain and the old city. "


def batch_of(rows: list[dict]) -> dict[str, list]:
    return {k: [r[k] for r in rows] for k in rows[0]}


def span_text(out: dict, i: int, context: str) -> str:
    s, e = out["start_positions"][i], out["end_positions"][i]
    offsets = out["offset_mapping"][i]
    return context[offsets[s][0] : offsets[e][1]]


def test_long_context_windows_point_at_answer_or_cls(tiny_en: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_en)
    context = FILLER * 12 + "Everest was first climbed in 1953 by Edmund Hillary. " + FILLER * 3
    start = context.index("1953")
    rows = [
        {"question": "When was Everest climbed?", "context": context,
         "answers": {"text": ["1953"], "answer_start": [start]}},
        {"question": "Who is the mayor?", "context": context, "answers": {"text": [], "answer_start": []}},
    ]
    out = encode_windows(batch_of(rows), tok, max_length=64, doc_stride=16)
    owners = example_indices(out["window_index"])
    first = [i for i, ex in enumerate(owners) if ex == 0]
    assert len(first) > 5  # one context, many windows
    assert all(len(ids) <= 64 for ids in out["input_ids"])
    with_answer = [i for i in first if out["start_positions"][i] != 0]
    assert with_answer and all(span_text(out, i, context) == "1953" for i in with_answer)
    # windows without the whole answer, and every window of the unanswerable question, point at [CLS]
    assert all(out["start_positions"][i] == out["end_positions"][i] == 0 for i in set(first) - set(with_answer))
    assert all(out["start_positions"][i] == 0 for i, ex in enumerate(owners) if ex == 1)
    # windows overlap and together cover the whole context
    covered = set()
    for i in first:
        spans = [o for o in out["offset_mapping"][i] if o is not None]
        covered.update(range(spans[0][0], spans[-1][1]))
    assert covered >= {i for i, ch in enumerate(context) if not ch.isspace()}


def test_question_tokens_have_no_offsets(tiny_en: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_en)
    out = encode_windows({"question": ["Who?"], "context": ["Hillary climbed."]}, tok, max_length=32)
    assert out["offset_mapping"][0][:4] == [None, None, None, None]  # [CLS] who ? [SEP]
    assert "start_positions" not in out


def test_hundred_thousand_character_context(tiny_en: Path) -> None:
    """Documented behaviour: any length works, in ceil(tokens / (window - stride)) windows."""
    tok = AutoTokenizer.from_pretrained(tiny_en)
    context = (FILLER * 1700)[:100_000]
    out = encode_windows({"question": ["Where?"], "context": [context]}, tok, max_length=256, doc_stride=64)
    last_window = [o for o in out["offset_mapping"][-1] if o is not None]
    assert last_window[-1][1] == len(context.rstrip())
    assert len(out["input_ids"]) > 100


def test_question_longer_than_max_length_is_an_error(tiny_en: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_en)
    rows = {"id": ["long-q"], "question": ["where " * 40], "context": ["Paris."]}
    with pytest.raises(DataError, match=r"id 'long-q': the question is 40 tokens; at most 32 fit in max_length 64"):
        encode_windows(rows, tok, max_length=64)


def test_japanese_offsets_follow_mecab_words(tiny_ja: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_ja)
    context = "東京都は日本の首都である。江戸幕府は1603年に開かれた。" * 3
    start = context.index("1603年")
    rows = [{"question": "江戸幕府が開かれたのは何年か。", "context": context,
             "answers": {"text": ["1603年"], "answer_start": [start]}}]
    out = encode_windows(batch_of(rows), tok, max_length=40, doc_stride=8, lang="ja")
    hits = [i for i in range(len(out["input_ids"])) if out["start_positions"][i] != 0]
    assert hits and all(span_text(out, i, context) == "1603年" for i in hits)
    # every token offset is inside the context and the word ids group tokens of one MeCab word
    for offsets, words in zip(out["offset_mapping"], out["word_ids"]):
        for o, w in zip(offsets, words):
            assert (o is None) == (w is None)
            if o is not None:
                assert 0 <= o[0] < o[1] <= len(context)


def test_japanese_with_a_sentencepiece_tokenizer_adds_no_piece_per_word() -> None:
    context = "東京都は日本の首都である。江戸幕府は1603年に開かれた。"
    question = "江戸幕府が開かれたのは何年か。"
    tok = tiny_sentencepiece_tokenizer(context + question, ["江戸", "幕府", "▁東京"])
    start = context.index("1603年")
    rows = [{"question": question, "context": context, "answers": {"text": ["1603年"], "answer_start": [start]}}]
    out = encode_windows(batch_of(rows), tok, max_length=128, lang="ja")
    context_tokens = [t for t, o in zip(out["input_ids"][0], out["offset_mapping"][0]) if o is not None]
    # the text as it is: one ▁ at the start of the context, not one before every MeCab word
    assert len(context_tokens) == len(tok(context, add_special_tokens=False)["input_ids"])
    assert tok.convert_ids_to_tokens(context_tokens).count("▁") <= 1
    assert span_text(out, 0, context) == "1603年"
    # word ids are MeCab words (江戸 / 幕府 / は ...), not the tokenizer's space-separated "words"
    mecab = {w.start: i for i, w in enumerate(split_words(context))}
    for o, w in zip(out["offset_mapping"][0], out["word_ids"][0]):
        if o is not None and o[0] in mecab:
            assert w == mecab[o[0]]
    assert len({w for w in out["word_ids"][0] if w is not None}) == len(mecab)
