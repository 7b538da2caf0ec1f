"""Long texts as overlapping windows, and the document's scores from its windows' scores.

A text longer than ``max_length`` tokens is cut by the tokenizer itself into windows (its overflowing
tokens, as the ``qa`` task windows its contexts): each window holds at most ``size = max_length - S``
tokens of the text between the tokenizer's ``S`` special tokens ([CLS] ... [SEP]), and consecutive
windows share ``stride`` tokens, so window ``k`` starts at token ``k * (size - stride)`` and the last
one ends with the text. Worked example (:func:`window_starts`): 20 tokens, ``max_length=8`` with
[CLS]/[SEP] (``size`` 6), ``stride=2``: the step is 4 and the windows are tokens 0-5, 4-9, 8-13, 12-17
and 16-19, five windows.

Each window is a feature with the document's position in ``example_index`` (the core's convention for
features of one example, :func:`tasuki.features.encode`); training gives every window the document's
label, and prediction scores every window and aggregates per document (:func:`aggregate`): ``mean``
(each label's probability averaged over the windows) or ``max`` (each label's highest probability in any
window: the label of the single most confident window wins).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tasuki.plugin import DataError, SettingError


def default_aggregation(multi_label: bool) -> str:
    """``max`` for multi-label (a label present in any window is the document's), ``mean`` for single-label."""
    return "max" if multi_label else "mean"


def check_options(options: Any) -> None:
    """Refuse a window setting given with ``windows=false`` (it would be ignored: texts are truncated then)."""
    if options.windows is False:
        for name in ("window_length", "window_stride", "window_aggregation"):
            if getattr(options, name) is not None:
                raise SettingError(f"option of task 'classify' {name!r}: {getattr(options, name)!r} is not allowed with "
                                   f"windows=false (long texts are truncated, not windowed); leave it out or drop windows=false")


def window_starts(n: int, size: int, stride: int) -> list[int]:
    """Where each window of an ``n``-token text starts: windows of ``size`` tokens, ``stride`` shared.

    ``window_starts(20, 6, 2) == [0, 4, 8, 12, 16]``; a text of at most ``size`` tokens is one window.
    """
    if n <= size:
        return [0]
    step = size - stride
    return [k * step for k in range(1 + math.ceil((n - size) / step))]


def window_size(length: int | None, max_length: int) -> int:
    """Tokens a window holds: ``length`` (the ``window_length`` option) or ``max_length``; refused above it."""
    if length is None:
        return max_length
    if length > max_length:
        raise SettingError(f"option of task 'classify' 'window_length': {length} is not allowed with max_length "
                           f"{max_length}; allowed: a whole number from 3 to {max_length} (or raise --max-length)")
    return length


def check_stride(stride: int | None, window: int, specials: int) -> int:
    """The stride to use: the given one, else a quarter of the ``window`` (``max_length``, or the ``window_length``
    option); refused when no text would fit.

    The tokenizer needs at least one new token per window: ``stride`` must be below the window's room for
    text, ``window`` minus the ``specials`` tokens the tokenizer adds.
    """
    room = window - specials
    if room < 1:
        raise SettingError(f"windows of {window} tokens leave no room for text next to {specials} special tokens")
    if stride is None:
        return min(window // 4, room - 1)
    if isinstance(stride, bool) or not isinstance(stride, int) or not 0 <= stride < room:
        raise SettingError(f"option of task 'classify' 'window_stride': {stride!r} is not allowed with windows of "
                           f"{window} tokens; allowed: a whole number from 0 to {room - 1} (tokens shared by consecutive "
                           f"windows, below the {room} text tokens of a window)")
    return stride


def encode_windows(texts: list[str], tokenizer: Any, max_length: int, stride: int | None) -> dict[str, list]:
    """Token features of ``texts``, one per window, with ``example_index`` (the text's position in ``texts``).

    Texts are tokenized whole; only those longer than ``max_length`` are tokenized again into windows (a fast
    tokenizer's overflowing tokens), so a batch of short texts costs what it did without windows.
    """
    if stride is not None:  # refused on the first batch, long texts or not
        check_stride(stride, max_length, tokenizer.num_special_tokens_to_add(pair=False))
    keys = ("input_ids", "attention_mask", "token_type_ids")
    # whole texts: a fast tokenizer's warning that they exceed the model's length is not for us (windows follow)
    whole = tokenizer(texts, **({"verbose": False} if getattr(tokenizer, "is_fast", False) else {}))
    too_long = [i for i, ids in enumerate(whole["input_ids"]) if len(ids) > max_length]
    if not too_long:
        return {**{k: list(v) for k, v in whole.items() if k in keys}, "example_index": list(range(len(texts)))}
    if not getattr(tokenizer, "is_fast", False):
        raise DataError(f"windows over long texts need a fast tokenizer ({type(tokenizer).__name__} is not); "
                        f"--option windows=false truncates instead")
    stride = check_stride(stride, max_length, tokenizer.num_special_tokens_to_add(pair=False))
    cut = tokenizer([texts[i] for i in too_long], truncation=True, max_length=max_length, stride=stride,
                    return_overflowing_tokens=True)
    windows: dict[int, list[int]] = {}  # text -> its windows' rows in ``cut``
    for row, j in enumerate(cut["overflow_to_sample_mapping"]):
        windows.setdefault(too_long[j], []).append(row)
    out: dict[str, list] = {k: [] for k in whole if k in keys}
    out["example_index"] = []
    for i in range(len(texts)):
        rows = windows.get(i)
        for key in out:
            if key == "example_index":
                out[key].extend([i] * (len(rows) if rows else 1))
            elif rows:
                out[key].extend(cut[key][r] for r in rows)
            else:
                out[key].append(whole[key][i])
    return out


def documents(features: Any, count: int) -> np.ndarray:
    """The document of each feature ``(W,)``: the ``example_index`` column, or one feature per document."""
    if "example_index" not in features.column_names:
        return np.arange(count, dtype=np.int64)
    return np.asarray(features["example_index"], dtype=np.int64)


def first_windows(features: Any, count: int) -> np.ndarray:
    """Positions of the first feature of each of the ``count`` documents (features come in document order)."""
    owners = documents(features, count)
    keep = np.ones(len(owners), dtype=bool)
    keep[1:] = owners[1:] != owners[:-1]
    return np.flatnonzero(keep)


def aggregate(scores: np.ndarray, owners: np.ndarray, count: int, how: str) -> np.ndarray:
    """Per-document scores ``(N, L)`` (``N = count``) from window scores ``(W, L)`` of documents ``owners``
    ``(W,)``: the mean or the max of each label's probability over the document's windows."""
    windows = np.bincount(owners, minlength=count)
    if len(windows) != count or not windows.all():
        raise RuntimeError(f"{len(owners)} windows do not cover {count} documents once each or more")
    if len(owners) == count:
        return scores  # one window per document (the usual case): nothing to aggregate
    if how == "max":
        out = np.full((count, scores.shape[1]), -np.inf)
        np.maximum.at(out, owners, scores)
        return out
    sums = np.zeros((count, scores.shape[1]))
    np.add.at(sums, owners, scores)
    return sums / windows[:, None]
