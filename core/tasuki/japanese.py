"""Japanese word splitting with MeCab (fugashi + unidic-lite), keeping character offsets.

Japanese has no spaces between words, so token labels (NER) and answer spans (QA) are
aligned through MeCab words: each :class:`Word` knows where it sits in the original
string, so ``text[w.start:w.end] == w.text`` always holds. Whitespace (including the
full-width space U+3000) is never a word.

Speed: MeCab is asked for surfaces only (one string per text, no node object per word), the
offsets of text without whitespace are running sums of the word lengths, and
:class:`WordPieces` tokenizes each distinct word once. Together they keep tasuki's Japanese
tokenization at MeCab's pace rather than Python's (``bench/tokenization.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import accumulate
from typing import Any, NamedTuple

from tasuki.errors import TasukiError


class MeCabUnavailable(TasukiError):
    """fugashi or a MeCab dictionary is not installed; ``tasuki doctor`` says what to install."""


class Word(NamedTuple):
    """One MeCab word: its surface text, character offsets, and (on request) part of speech.

    A named tuple: texts have tens of words each, and tuples are the cheapest objects to make.
    """

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


@lru_cache(maxsize=1)
def _surface_tagger() -> Any:
    """A second tagger on the same dictionary that prints only the surfaces, one per line.

    Same dictionary, same lattice: the same words as :func:`tagger`, without a Python node per
    word (``-O ""`` drops unidic-lite's own output format so that ``--node-format`` applies).
    """
    import fugashi
    import unidic_lite

    tagger()  # the same clear errors when MeCab or the dictionary is missing
    return fugashi.GenericTagger(f'-r /dev/null -d "{unidic_lite.DICDIR}" -O "" --node-format="%m\\n" '
                                 f'--unk-format="%m\\n" --bos-format="" --eos-format=""')


_SPACE = re.compile(r"\s")


def word_spans(text: str) -> tuple[list[str], list[int]]:
    """The MeCab words of ``text`` as two lists: surfaces and start offsets (``end = start + len``).

    The fast form of :func:`split_words` (no object per word); whitespace is never a word.
    """
    if not text:
        return [], []
    output = _surface_tagger().parse(text)
    surfaces = output.split("\n") if output else []
    if not _SPACE.search(text):
        if "".join(surfaces) == text:  # no whitespace to skip: each word starts where the last ended
            return surfaces, [0, *accumulate(map(len, surfaces[:-1]))]
        return _node_spans(text)  # never seen; guard rather than misalign
    words: list[str] = []
    starts: list[int] = []
    find = text.find
    cursor = 0
    for surface in surfaces:
        # MeCab skips only whitespace before a word and no surface starts with it: the first match is the word
        start = find(surface, cursor)
        if start < 0 or not surface:
            return _node_spans(text)
        cursor = start + len(surface)
        if not surface.isspace():  # MeCab reports full-width spaces as words; they carry no label
            words.append(surface)
            starts.append(start)
    return words, starts


def _node_spans(text: str) -> tuple[list[str], list[int]]:
    """:func:`word_spans` through MeCab's nodes and their whitespace counts (the careful path)."""
    words: list[str] = []
    starts: list[int] = []
    for word in _node_words(text, with_pos=False):
        words.append(word.text)
        starts.append(word.start)
    return words, starts


def split_words(text: str, *, with_pos: bool = False) -> list[Word]:
    """Split ``text`` into MeCab words with character offsets into ``text``.

    :param with_pos: also fill :attr:`Word.pos` (parsing MeCab's feature string costs time).
    """
    if with_pos:
        return _node_words(text, with_pos=True)
    words, starts = word_spans(text)
    return [Word(w, s, s + len(w)) for w, s in zip(words, starts)]


def _node_words(text: str, *, with_pos: bool) -> list[Word]:
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


class WordPieces:
    """MeCab words -> sub-word ids with character offsets, each distinct word tokenized once.

    Words repeat (particles, endings, punctuation): the pieces of a word are looked up, not
    recomputed. Equal to tokenizing the word list with ``is_split_into_words``: a fast tokenizer
    normalizes and pre-tokenizes each word on its own either way.

    :param tokenizer: a ``transformers`` fast tokenizer or a ``tokenizers.Tokenizer``.
    :param prefix, suffix: ids around each text (e.g. ``[CLS]`` and ``[SEP]``), offsets ``(0, 0)``.
    :param max_words: distinct words kept; the cache starts over beyond it (bounded memory).
    """

    def __init__(self, tokenizer: Any, prefix: Sequence[int] = (), suffix: Sequence[int] = (),
                 max_words: int = 200_000) -> None:
        self._backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
        if not hasattr(self._backend, "encode_batch"):
            raise TypeError("WordPieces needs a fast tokenizer (tokenizer.json)")
        self.prefix = list(prefix)
        self.suffix = list(suffix)
        self.max_words = max_words
        self._cache: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}

    def _learn(self, words: Iterable[str]) -> None:
        distinct = list(dict.fromkeys(words))
        new = [w for w in distinct if w not in self._cache]
        if len(self._cache) + len(new) > self.max_words:
            self._cache.clear()  # this text's words are learnt again below: all of them stay findable
            new = distinct
        for word, encoding in zip(new, self._backend.encode_batch(new, add_special_tokens=False)):
            self._cache[word] = (encoding.ids, encoding.offsets)

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids and ``(start, end)`` character offsets into ``text`` of its MeCab words' pieces."""
        return self.encode_words(*word_spans(text))

    def encode_words(self, words: Sequence[str], starts: Sequence[int]) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids and offsets of pre-split words (``starts``: each word's offset in its text)."""
        cache = self._cache
        if not all(w in cache for w in words):
            self._learn(words)
        ids = list(self.prefix)
        offsets = [(0, 0)] * len(ids)
        for word, start in zip(words, starts):
            piece_ids, piece_offsets = cache[word]
            ids += piece_ids
            if len(piece_ids) == 1:  # most words are one piece: one tuple, no list to build
                a, b = piece_offsets[0]
                offsets.append((start + a, start + b))
            else:
                offsets += [(start + a, start + b) for a, b in piece_offsets]
        ids += self.suffix
        offsets += [(0, 0)] * len(self.suffix)
        return ids, offsets


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


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` of ``text[start:end]`` without the whitespace at its ends (``start == end`` if it is all
    whitespace). A SentencePiece token (``▁lives``) has the offsets of the space before its word too: an entity or
    answer built from token offsets would otherwise start with that space."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
