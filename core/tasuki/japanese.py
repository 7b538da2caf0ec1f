"""Japanese word splitting with MeCab (fugashi + unidic-lite), keeping character offsets.

Japanese has no spaces between words, so token labels (NER) and answer spans (QA) are
aligned through MeCab words: each :class:`Word` knows where it sits in the original
string, so ``text[w.start:w.end] == w.text`` always holds. Whitespace (including the
full-width space U+3000) is never a word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tasuki.errors import TasukiError


class MeCabUnavailable(TasukiError):
    """fugashi or a MeCab dictionary is not installed; ``tasuki doctor`` says what to install."""


@dataclass(frozen=True)
class Word:
    """One MeCab word: its surface text, character offsets, and (on request) part of speech."""

    text: str
    start: int
    end: int
    pos: str = ""


@lru_cache(maxsize=1)
def tagger() -> Any:
    """The shared fugashi tagger on unidic-lite (built once per process)."""
    try:
        import fugashi
    except ImportError as exc:
        raise MeCabUnavailable(f"Japanese needs MeCab: pip install fugashi unidic-lite ({exc})") from None
    try:
        import unidic_lite
    except ImportError:
        raise MeCabUnavailable("MeCab has no dictionary: pip install unidic-lite") from None
    try:
        return fugashi.Tagger(f'-d "{unidic_lite.DICDIR}"')
    except RuntimeError as exc:
        raise MeCabUnavailable(f"MeCab could not load unidic-lite from {unidic_lite.DICDIR}: {exc}") from None


def split_words(text: str, *, with_pos: bool = False) -> list[Word]:
    """Split ``text`` into MeCab words with character offsets into ``text``.

    :param with_pos: also fill :attr:`Word.pos` (parsing MeCab's feature string costs time).
    """
    words: list[Word] = []
    cursor = 0
    for node in tagger()(text):
        surface = node.surface
        # MeCab skips whitespace before a word and tells us how much: the offset costs no search
        start = cursor + len(node.white_space)
        if text[start : start + len(surface)] != surface:
            start = text.find(surface, cursor)  # never seen; guard rather than misalign
            if start < 0:
                raise ValueError(f"MeCab word {surface!r} not found in text after offset {cursor}")
        end = start + len(surface)
        cursor = end
        if not surface.strip():
            continue  # MeCab reports full-width spaces as words; they carry no label
        words.append(Word(surface, start, end, (node.feature.pos1 or "") if with_pos else ""))
    return words


def mecab_status() -> tuple[bool, str]:
    """``(ok, message)`` for ``tasuki doctor``."""
    try:
        t = tagger()
    except MeCabUnavailable as exc:
        return False, str(exc)
    info = t.dictionary_info[0] if t.dictionary_info else {}
    return True, f"MeCab via fugashi, dictionary {info.get('filename', '?')}"


def japanese_share(text: str) -> float:
    """The share of ``text``'s letters that are kana or kanji (0.0 when it has no letters).

    Used to pick the language of a dataset when none is given: Latin-script text scores near 0,
    Japanese prose near 1 even with English words and digits mixed in.
    """
    letters = japanese = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        code = ord(ch)
        # hiragana + katakana, CJK ideographs, half-width katakana
        if 0x3040 <= code <= 0x30FF or 0x4E00 <= code <= 0x9FFF or 0xFF66 <= code <= 0xFF9F:
            japanese += 1
    return japanese / letters if letters else 0.0


def word_owners(words: Sequence[tuple[int, int]], length: int) -> list[int]:
    """Per character of a text of ``length``, the index of the word it belongs to (-1: none).

    :param words: ``(start, end)`` of each word (e.g. from :func:`split_words`), in order.
    """
    owner = [-1] * (length + 1)
    for index, (start, end) in enumerate(words):
        owner[start:end] = [index] * (end - start)
    return owner


def words_of_tokens(
    offsets: Sequence[tuple[int, int] | Sequence[int] | None], owners: Sequence[int]
) -> list[int | None]:
    """The word that owns each token: the word of its first character that belongs to one.

    Sub-word tokens from a model's own tokenizer may start with a space or cross a word
    boundary (SentencePiece's ``▁`` pieces, ``の世界``); the first owned character decides.
    ``None`` for tokens outside the text or over whitespace only.

    :param offsets: per token ``(start, end)`` character offsets into the text, or ``None``.
    :param owners: :func:`word_owners` of the text (built once, used for all its windows).
    """
    result: list[int | None] = []
    for span in offsets:
        word = next((owners[c] for c in range(span[0], span[1]) if owners[c] >= 0), None) if span else None
        result.append(word)
    return result
