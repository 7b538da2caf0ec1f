"""MeCab word splitting keeps character offsets into the original text."""

from __future__ import annotations

import pytest

from tasuki.japanese import split_words


def test_offsets_point_into_the_text() -> None:
    text = "東京都に住んでいる　山田太郎です。\nABC  株式会社は2024年に設立された。"
    words = split_words(text)
    assert [w.text for w in words][:3] == ["東京", "都", "に"]
    for word in words:
        assert text[word.start:word.end] == word.text
    assert "\u3000" not in {w.text for w in words}  # the full-width space is not a word
    assert words == sorted(words, key=lambda w: w.start)


def test_empty_and_whitespace_text() -> None:
    assert split_words("") == []
    assert split_words("  \u3000 ") == []


TRICKY = [
    "東京都に住んでいる　山田太郎です。\nABC  株式会社は2024年に設立された。",
    "ｱｲｳ\tテスト\r\nです",  # MeCab reports "\r" as a word: whitespace, so not one of ours
    "\u3000先頭と末尾\u3000",
    "a\u00a0b c",  # a no-break space
    "改行\n\n二行、English words  and 記号！？",
    "私は彼女と映画を見た",
]


def test_fast_spans_equal_mecab_nodes() -> None:
    from tasuki.japanese import _node_spans, word_spans

    for text in TRICKY:
        words, starts = word_spans(text)
        assert (words, starts) == _node_spans(text), text
        assert all(text[s : s + len(w)] == w and w.strip() for w, s in zip(words, starts))


def test_word_pieces_equal_the_tokenizer_on_words(tmp_path) -> None:
    from transformers import AutoTokenizer

    from tasuki.japanese import WordPieces, split_words
    from tasuki.testing import tiny_bert

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert(tmp_path, japanese=True))
    pieces = WordPieces(tokenizer, prefix=[tokenizer.cls_token_id], suffix=[tokenizer.sep_token_id], max_words=5)
    for text in TRICKY * 2:  # the second round reads the cache (and it overflows: max_words=5)
        words = split_words(text)
        ids, offsets = pieces.encode(text)
        reference = tokenizer([w.text for w in words], is_split_into_words=True, return_offsets_mapping=True)
        assert ids == reference["input_ids"], text
        # offsets into the text itself (the tokenizer's are into each word)
        word_of = reference.word_ids()
        expected = [(0, 0) if w is None else (words[w].start + a, words[w].start + b)
                    for w, (a, b) in zip(word_of, reference["offset_mapping"])]
        assert offsets == expected, text


@pytest.mark.parametrize(("text", "span", "expected"), [
    ("john lives in paris", (4, 10), (5, 10)),  # ▁lives: the space before the word
    ("a  b\n", (1, 5), (3, 4)),  # whitespace at both ends, newline included
    ("東京\u3000大阪", (2, 5), (3, 5)),  # the full-width space is whitespace too
    ("a b", (1, 2), (2, 2)),  # only whitespace: empty
    ("abc", (0, 3), (0, 3)),
])
def test_strip_span(text: str, span: tuple[int, int], expected: tuple[int, int]) -> None:
    from tasuki.plugin import strip_span

    assert strip_span(text, *span) == expected
