"""A batch of examples to features: token ids (long texts in windows, or truncated with one warning that
counts the texts cut) and the labels as the head reads them (a class id, or a 0/1 vector when multi-label)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from tasuki.plugin import DataError
from tasuki_classify import labels as rules
from tasuki_classify.windows import encode_windows


class TruncationWarning(UserWarning):
    """Some texts were longer than ``max_length`` tokens and lost their ends."""


def features(texts: list[str], tokenizer: Any, max_length: int, *, windows: bool, stride: int | None,
             warn: bool) -> tuple[dict[str, list], bool]:
    """Token features of ``texts``: with ``windows``, one per window with ``example_index``
    (:func:`tasuki_classify.windows.encode_windows`), else one per text, truncated (:func:`tokenize`).
    Returns them and whether a truncation warning was given (``warn``: may warn)."""
    if windows:
        return encode_windows(texts, tokenizer, max_length, stride), False
    return tokenize(texts, tokenizer, max_length, warn=warn)


def targets(values: list[Any], column: str, labels: Sequence[str], multi_label: bool, separator: str | None,
            class_names: Sequence[str] | None) -> list[Any]:
    """Each row's label value as the head's target: a class id, or a 0/1 float per label when multi-label."""
    label2id = {name: i for i, name in enumerate(labels)}
    out: list[Any] = []
    for row, value in enumerate(values, start=1):
        names = rules.as_set(rules.read_row(value, row, "batch", column, separator, class_names), multi_label,
                             row, "batch", column)
        if any(name not in label2id for name in names):
            raise DataError(f"unknown label in {names}; the model knows {list(labels)}")
        out.append([1.0 if label in names else 0.0 for label in labels] if multi_label else label2id[names[0]])
    return out


def tokenize(texts: list[str], tokenizer: Any, max_length: int, *, warn: bool,
             pairs: list[str] | None = None) -> tuple[dict[str, list], bool]:
    """Token features of ``texts`` (of each ``(text, pair)`` as one input when ``pairs`` are given); returns them
    and whether a truncation warning was given (``warn``: may warn).

    A fast tokenizer tokenizes a whole text before truncating, so a 50 MB line would take minutes: texts
    are cut first far beyond what ``max_length`` tokens can hold (64 characters a token). Only the inputs
    that are too long are tokenized again with truncation (of a pair, a token at a time from the longer
    text), so that each tokenizer's own closing special tokens ([SEP], </s>) stay at the end.
    """
    limit = max(64 * max_length, 10_000)
    texts = [text[:limit] for text in texts]
    seconds = None if pairs is None else [pair[:limit] for pair in pairs]
    encoded = tokenizer(texts, seconds, truncation=False)
    too_long = [i for i, ids in enumerate(encoded["input_ids"]) if len(ids) > max_length]
    warned = False
    if too_long:
        longest = max(len(encoded["input_ids"][i]) for i in too_long)
        clipped = tokenizer([texts[i] for i in too_long], None if seconds is None else [seconds[i] for i in too_long],
                            truncation="longest_first", max_length=max_length)
        for key in encoded:
            for j, i in enumerate(too_long):
                encoded[key][i] = clipped[key][j]
        if warn:
            warned = True
            cut = (f"({len(too_long)} of the first {len(texts)}, the longest {longest} tokens); raise --max-length "
                   f"(Python: max_length=) to keep more of them")
            if seconds is None:  # called through features(): one frame deeper than a pair task's encode
                warnings.warn(f"texts longer than max_length={max_length} tokens are truncated {cut}, or leave out "
                              f"--option windows=false to score them in windows", TruncationWarning, stacklevel=4)
            else:
                warnings.warn(f"text pairs longer than max_length={max_length} tokens (both texts together) are "
                              f"truncated, the longer text first {cut}", TruncationWarning, stacklevel=3)
    features = {k: list(v) for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    return features, warned
