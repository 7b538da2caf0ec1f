"""Two texts to token ids as one input, truncated to ``max_length`` with one warning that counts the pairs cut."""

from __future__ import annotations

import warnings
from typing import Any

from tasuki_classify.encoding import TruncationWarning


def tokenize_pairs(texts: list[str], pairs: list[str], tokenizer: Any, max_length: int, *,
                   warn: bool) -> tuple[dict[str, list], bool]:
    """Token features of each ``(text, pair)`` as one input; returns them and whether it warned (``warn``: may warn).

    As :func:`tasuki_classify.encoding.tokenize` does for one text: each text is first cut far beyond what
    ``max_length`` tokens can hold (a 50 MB line would take minutes to tokenize), and only the pairs that
    are too long are tokenized again with ``truncation="longest_first"`` (a token at a time from the
    longer text), with one warning that counts them.
    """
    limit = max(64 * max_length, 10_000)
    texts, pairs = [t[:limit] for t in texts], [p[:limit] for p in pairs]
    encoded = tokenizer(texts, pairs, truncation=False)
    too_long = [i for i, ids in enumerate(encoded["input_ids"]) if len(ids) > max_length]
    warned = False
    if too_long:
        longest = max(len(encoded["input_ids"][i]) for i in too_long)
        clipped = tokenizer([texts[i] for i in too_long], [pairs[i] for i in too_long], truncation="longest_first",
                            max_length=max_length)
        for key in encoded:
            for j, i in enumerate(too_long):
                encoded[key][i] = clipped[key][j]
        if warn:
            warned = True
            warnings.warn(f"text pairs longer than max_length={max_length} tokens (both texts together) are truncated, "
                          f"the longer text first ({len(too_long)} of the first {len(texts)}, the longest {longest} "
                          f"tokens); raise --max-length (Python: max_length=) to keep more of them",
                          TruncationWarning, stacklevel=3)
    features = {k: list(v) for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    return features, warned
