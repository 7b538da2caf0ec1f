"""MeCab word splitting keeps character offsets into the original text."""

from __future__ import annotations

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
