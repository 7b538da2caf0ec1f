"""Words, sub-word tokens and the character offsets that tie them together.

An example becomes a text, its words as character spans, and (with targets) one BIO tag per
word. Words come from the data (CoNLL tokens, joined with a space, or with nothing for
Japanese), from MeCab (:func:`tasuki.japanese.split_words`) for Japanese text, or from a
letters-digits/punctuation split for other text. The backbone's tokenizer then tokenizes the
*whole text* (as ``transformers.pipeline`` does at prediction time), and each sub-token is
tied to the word in which its first character lies. A slow tokenizer (no offsets) tokenizes
word by word instead.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tasuki.plugin import word_owners, words_of_tokens
from tasuki_ner.tags import Span, spans_to_bio

IGNORE = -100
"""Label of positions the loss skips (special tokens, and continuation sub-tokens if asked)."""

_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass
class Example:
    """A text, its words as ``(start, end)`` character spans, and one BIO tag per word (or none)."""

    text: str
    words: list[tuple[int, int]]
    tags: list[str] | None = None
    split_words: int = 0
    """Words cut in two because an entity boundary fell inside them."""


@dataclass
class Tokens:
    """The sub-tokens of a whole text (no special tokens), with offsets and word indices."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    word_ids: list[int] = field(default_factory=list)
    """Index of the word holding each token's first character; -1 for none."""


def simple_words(text: str) -> list[tuple[int, int]]:
    """Runs of letters/digits and single punctuation marks, as character spans."""
    return [m.span() for m in _WORD.finditer(text)]


def text_words(text: str, lang: str) -> list[tuple[int, int]]:
    """The words of a raw text: MeCab words for Japanese, :func:`simple_words` otherwise."""
    if lang == "ja":
        from tasuki.plugin import split_words

        return [(w.start, w.end) for w in split_words(text)]
    return simple_words(text)


def join_tokens(tokens: Sequence[str], separator: str) -> tuple[str, list[tuple[int, int]]]:
    """Join pre-split tokens into a text; return it and each token's character span."""
    spans = []
    cursor = 0
    for i, token in enumerate(tokens):
        if i:
            cursor += len(separator)
        spans.append((cursor, cursor + len(token)))
        cursor += len(token)
    return separator.join(tokens), spans


def split_at_entities(words: list[tuple[int, int]], entities: Sequence[Span]) -> tuple[list[tuple[int, int]], list[str], int]:
    """Cut words at entity boundaries and tag them in BIO.

    An entity boundary inside a word (a MeCab word such as 東京都 with an entity 東京) splits
    the word, so that no entity is lost or widened; the number of words cut is returned.
    Character spans of ``entities`` must not overlap.
    """
    cuts = sorted({e.start for e in entities} | {e.end for e in entities})
    out: list[tuple[int, int]] = []
    split = 0
    for start, end in words:
        inside = [c for c in cuts if start < c < end]
        if inside:
            split += 1
        bounds = [start, *inside, end]
        out += list(itertools.pairwise(bounds))
    # an entity may also cover characters that belong to no word (it starts on a space): keep
    # only the words it covers; one covering no word at all cannot be learnt and is reported
    spans = []
    for entity in sorted(entities, key=lambda e: e.start):
        first = next((i for i, (s, e) in enumerate(out) if s >= entity.start and e <= entity.end), None)
        if first is None:
            continue
        last = first
        while last + 1 < len(out) and out[last + 1][1] <= entity.end:
            last += 1
        spans.append(Span(first, last + 1, entity.type))
    return out, spans_to_bio(len(out), spans), split


def tokenize(text: str, words: list[tuple[int, int]], tokenizer: Any, by_word: bool = False) -> Tokens:
    """Sub-tokens of ``text`` (no special tokens) with character offsets and word indices.

    :param by_word: tokenize word by word (Japanese MeCab words), so that no token crosses a
        word: SentencePiece glues particles to entities (``日の``, ``、2``) when it sees the text
        as one piece, and an entity that starts or ends inside a token cannot be labelled.
    """
    if not getattr(tokenizer, "is_fast", False):
        ids, offsets = _tokenize_by_word(text, words, tokenizer)
    elif by_word:
        ids, offsets = _tokenize_words_fast(text, words, tokenizer)
    else:
        encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        ids = list(encoding["input_ids"])
        offsets = [tuple(o) for o in encoding["offset_mapping"]]
    # offsets may include a leading space (SentencePiece's ▁): the first owned character decides
    owned = words_of_tokens(offsets, word_owners(words, len(text)))
    word_ids = [-1 if w is None else w for w in owned]
    return Tokens(ids, offsets, word_ids)


SPIECE = "▁"
"""SentencePiece's mark for "a space (or the text's start) before this piece"."""


def _tokenize_words_fast(text: str, words: list[tuple[int, int]], tokenizer: Any) -> tuple[list[int], list]:
    """One batched call over the words; drop the ``▁`` that a word tokenized alone gets but
    the text has not (no space before it), so the pieces are those of the text cut at words."""
    if not words:
        return [], []
    encoding = tokenizer([text[s:e] for s, e in words], add_special_tokens=False, return_offsets_mapping=True,
                         verbose=False)
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    for (start, _), word_ids, word_offsets in zip(words, encoding["input_ids"], encoding["offset_mapping"]):
        glued = start > 0 and not text[start - 1].isspace()
        pieces = tokenizer.convert_ids_to_tokens(word_ids)
        for k, (piece, piece_id, (a, b)) in enumerate(zip(pieces, word_ids, word_offsets)):
            if glued and k == 0 and piece.startswith(SPIECE):
                rest = piece[len(SPIECE):]
                if not rest and len(pieces) > 1:
                    continue  # a lone ▁ in front of the word
                bare = tokenizer.convert_tokens_to_ids(rest) if rest else tokenizer.unk_token_id
                if bare != tokenizer.unk_token_id:
                    piece_id = bare  # "▁日" -> "日", as inside the text
            ids.append(piece_id)
            offsets.append((start + a, start + b))
    return ids, offsets


def _tokenize_by_word(text: str, words: list[tuple[int, int]], tokenizer: Any) -> tuple[list[int], list]:
    """For slow tokenizers (no offset mapping): tokenize each word alone and locate its pieces."""
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    for start, end in words:
        pieces = tokenizer.tokenize(text[start:end])
        cursor = start
        for piece in pieces:
            clean = piece.removeprefix("##").removeprefix("▁")
            found = text.find(clean, cursor, end) if clean else -1
            if found >= 0:
                offsets.append((found, found + len(clean)))
                cursor = found + len(clean)
            else:  # [UNK] or a normalised piece: tie it to the rest of the word
                offsets.append((cursor, end))
        ids += tokenizer.convert_tokens_to_ids(pieces)
    return ids, offsets


def token_labels(
    tokens: Tokens, tags: Sequence[str], label2id: dict[str, int], *, label_all_tokens: bool
) -> tuple[list[int], int]:
    """One label id per sub-token and the number of entities that no token starts.

    The first sub-token of a word gets the word's tag. Later sub-tokens get the tag with
    ``B-`` turned into ``I-`` (``label_all_tokens``) or :data:`IGNORE`. An entity whose first
    word has no token of its own (a token starting in the word before covers it) is unreachable.
    """
    labels: list[int] = []
    started: set[int] = set()
    previous = -1
    for word in tokens.word_ids:
        if word < 0:
            labels.append(IGNORE)
        elif word != previous:
            labels.append(label2id[tags[word]])
            started.add(word)
        elif label_all_tokens:
            tag = tags[word]
            labels.append(label2id["I-" + tag[2:] if tag.startswith("B-") else tag])
        else:
            labels.append(IGNORE)
        previous = word
    lost = sum(1 for i, tag in enumerate(tags) if tag.startswith("B-") and i not in started)
    return labels, lost


def windows(n: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Token ranges ``[start, end)`` of at most ``size`` tokens covering ``0..n``, consecutive ones overlapping."""
    if size < 1:
        raise ValueError(f"max_length leaves no room for tokens (window size {size})")
    overlap = max(0, min(overlap, size // 2))
    out = []
    start = 0
    while True:
        end = min(start + size, n)
        out.append((start, end))
        if end >= n:
            return out
        start = end - overlap


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a single sequence (``[CLS]`` / ``[SEP]``, ``<s>`` / ``</s>``)."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for i in range(len(full) - len(bare) + 1):
        if full[i : i + len(bare)] == bare:
            return list(full[:i]), list(full[i + len(bare) :])
    return [], []
