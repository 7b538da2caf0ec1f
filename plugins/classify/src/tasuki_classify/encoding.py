"""Texts to token ids, truncated to ``max_length`` with one warning that counts the texts cut."""

from __future__ import annotations

import warnings
from typing import Any


class TruncationWarning(UserWarning):
    """Some texts were longer than ``max_length`` tokens and lost their ends."""


def tokenize(texts: list[str], tokenizer: Any, max_length: int, *, warn: bool) -> tuple[dict[str, list], bool]:
    """Token features of ``texts``; returns them and whether a truncation warning was given (``warn``: may warn).

    A fast tokenizer tokenizes a whole text before truncating, so a 50 MB line would take minutes: texts
    are cut first far beyond what ``max_length`` tokens can hold (64 characters a token). Only the texts
    that are too long are tokenized again with truncation, so that each tokenizer's own closing special
    tokens ([SEP], </s>) stay at the end.
    """
    limit = max(64 * max_length, 10_000)
    texts = [text[:limit] for text in texts]
    encoded = tokenizer(texts, truncation=False)
    too_long = [i for i, ids in enumerate(encoded["input_ids"]) if len(ids) > max_length]
    warned = False
    if too_long:
        longest = max(len(encoded["input_ids"][i]) for i in too_long)
        clipped = tokenizer([texts[i] for i in too_long], truncation=True, max_length=max_length)
        for key in encoded:
            for j, i in enumerate(too_long):
                encoded[key][i] = clipped[key][j]
        if warn:
            warned = True
            warnings.warn(f"texts longer than max_length={max_length} tokens are truncated ({len(too_long)} of the "
                          f"first {len(texts)}, the longest {longest} tokens); raise --max-length (Python: max_length=) "
                          f"to keep more of them", TruncationWarning, stacklevel=3)
    features = {k: list(v) for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    return features, warned
