"""How a corpus becomes masked-LM features: blocks cut from the concatenated text, one feature
per line, or sentence pairs for next-sentence prediction; with whole-word masking, a word
number per token (MeCab words for Japanese, the fast tokenizer's words otherwise)."""

from __future__ import annotations

import bisect
from typing import Any

from tasuki.plugin import DataError

FILL_MASK = "fill_mask"  # example column set by ``examples_from_inputs``: user text with [MASK], never re-masked


def encode_lines(texts: list[str], tokenizer: Any, max_length: int, *, fill: bool, whole_word: bool, lang: str
                 ) -> dict[str, list]:
    """One truncated feature per text (fill-mask queries, ``line_by_line``); word ids with ``whole_word``."""
    encoded = tokenizer(texts, truncation=True, max_length=max_length, return_offsets_mapping=needs_offsets(whole_word, lang))
    ids_list: list[list[int]] = encoded["input_ids"]
    out: dict[str, list] = {"input_ids": ids_list}
    if fill:
        out[FILL_MASK] = [True] * len(texts)
        for row, ids in enumerate(ids_list, start=1):
            if tokenizer.mask_token_id not in ids:
                raise DataError(
                    f"input {row}: no {tokenizer.mask_token} token in {texts[row - 1][:60]!r}; fill-mask "
                    f"predicts the tokens hidden behind {tokenizer.mask_token}"
                )
    elif whole_word:
        special = set(tokenizer.all_special_ids)
        out["word_ids"] = [
            [-1 if ids[j] in special or w is None else w for j, w in enumerate(word_numbers(encoded, i, texts[i], lang))]
            for i, ids in enumerate(ids_list)
        ]
    return out

def encode_blocks(texts: list[str], tokenizer: Any, max_length: int, *, whole_word: bool, lang: str) -> dict[str, list]:
    """The texts concatenated ([SEP] after each) and cut into blocks of ``max_length`` tokens."""
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=needs_offsets(whole_word, lang))
    stream: list[int] = []  # every document's tokens, each followed by [SEP]
    words: list[int] = []  # a corpus-wide word number per token (-1: the separators)
    next_word = 0
    for i, ids in enumerate(encoded["input_ids"]):
        stream.extend(ids)
        stream.append(tokenizer.sep_token_id)
        if whole_word:
            local = word_numbers(encoded, i, texts[i], lang)
            words.extend(next_word + w if w is not None and w >= 0 else -1 for w in local)
            next_word += max((w for w in local if w is not None), default=-1) + 1
            words.append(-1)
    body = max_length - 2
    starts = list(range(0, len(stream) - body + 1, body))
    if not starts and stream:
        # This map batch does not fill one block: keep what there is rather than drop the corpus.
        starts = [0]
    out: dict[str, list] = {"input_ids": []}
    if whole_word:
        out["word_ids"] = []
    for start in starts:
        chunk = stream[start : start + body]
        if chunk and chunk[-1] == tokenizer.sep_token_id:
            chunk = chunk[:-1]  # the block's own [SEP] closes it
        out["input_ids"].append([tokenizer.cls_token_id, *chunk, tokenizer.sep_token_id])
        if whole_word:
            out["word_ids"].append([-1, *words[start : start + len(chunk)], -1])
    return out

def encode_pairs(texts: list[str], tokenizer: Any, max_length: int, *, whole_word: bool) -> dict[str, list]:
    """Sentence pairs for next-sentence prediction (half of the second segments random)."""
    from tasuki_mlm.nsp import sentence_pairs

    pairs = sentence_pairs(texts, tokenizer, max_length)
    if not pairs:
        return {"input_ids": [], "token_type_ids": [], "next_sentence_label": []}
    encoded = tokenizer([a for a, _, _ in pairs], [b for _, b, _ in pairs], truncation="longest_first",
                        max_length=max_length)
    out = {"input_ids": encoded["input_ids"], "token_type_ids": encoded["token_type_ids"],
           "next_sentence_label": [label for _, _, label in pairs]}
    if whole_word:
        # Word ids restart in segment B: number words by (segment, word) so that they stay distinct.
        out["word_ids"] = [
            [-1 if w is None else w * 2 + (seq or 0) for w, seq in zip(encoded.word_ids(i), encoded.sequence_ids(i))]
            for i in range(len(pairs))
        ]
    return out

def needs_offsets(whole_word: bool, lang: str) -> bool:
    """Japanese whole words come from MeCab through character offsets."""
    return whole_word and lang == "ja"

def word_numbers(encoded: Any, index: int, text: str, lang: str) -> list[int | None]:
    """Word number per token of ``encoded[index]``: MeCab words for Japanese, else the tokenizer's."""
    if lang != "ja":
        if not getattr(encoded, "is_fast", False):
            raise DataError("whole-word masking needs a fast tokenizer (tokenizer.json) for word ids")
        return list(encoded.word_ids(index))
    from tasuki.plugin import split_words

    words = split_words(text)
    starts = [w.start for w in words]
    result: list[int | None] = []
    for start, end in encoded["offset_mapping"][index]:
        if start == end:
            result.append(None)  # special tokens have an empty span
            continue
        k = bisect.bisect_right(starts, start) - 1
        # A token inside MeCab word k gets its number; one that falls between words (none
        # should, whitespace aside) becomes a word of its own, numbered after all real words.
        result.append(k if k >= 0 and start < words[k].end else len(words) + len(result))
    return result
