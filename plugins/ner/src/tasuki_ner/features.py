"""The ``ner`` task's features: windows of sub-tokens with BIO label ids, and their padding into a batch.

:meth:`tasuki_ner.task.NerTask.encode` and :meth:`~tasuki_ner.task.NerTask.collate` delegate here, so the
task module reads as the task's outline; alignment of words, tags and sub-tokens is :mod:`tasuki_ner.align`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tasuki.plugin import DataError
from tasuki_ner.align import IGNORE, Example, special_tokens, token_labels, tokenize, windows

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase


def window_features(batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_length: int, *,
                    example_of: Callable[[dict[str, Any]], Example], labels: Sequence[str], by_word: bool,
                    label_all_tokens: bool, window_overlap: int) -> tuple[dict[str, list], int, int]:
    """Sub-token features of ``batch``, one per window of at most ``max_length`` tokens (see ``NerTask.encode``).

    ``example_of`` reads one row (the task's, so a subclass's reading applies); ``by_word`` tokenizes word by
    word (Japanese). Returns the features and the counts of words split at an entity boundary and of entities
    no token can carry, which the task reports.
    """
    prefix, suffix = special_tokens(tokenizer)
    size = max_length - len(prefix) - len(suffix)
    label2id = {label: i for i, label in enumerate(labels)}
    out: dict[str, list] = defaultdict(list)
    n = len(next(iter(batch.values())))
    split = lost = 0
    for i in range(n):
        row = {k: batch[k][i] for k in batch}
        example = example_of(row)
        tokens = tokenize(example.text, example.words, tokenizer, by_word=by_word)
        token_tags = None
        if example.tags is not None and label2id:
            unknown = sorted({t for t in example.tags if t not in label2id})
            if unknown:
                raise DataError(f"unknown tag(s) {unknown} in {example.text[:60]!r}; the model knows {labels}")
            token_tags, unreachable = token_labels(tokens, example.tags, label2id, label_all_tokens=label_all_tokens)
            lost += unreachable
        split += example.split_words
        for w, (a, b) in enumerate(windows(len(tokens.ids), size, window_overlap)):
            pad_l, pad_r = [-1] * len(prefix), [-1] * len(suffix)
            ids = prefix + tokens.ids[a:b] + suffix
            out["input_ids"].append(ids)
            out["attention_mask"].append([1] * len(ids))
            out["positions"].append(pad_l + list(range(a, b)) + pad_r)
            out["offsets"].append([[0, 0]] * len(prefix) + [list(o) for o in tokens.offsets[a:b]] + [[0, 0]] * len(suffix))
            out["word_ids"].append(pad_l + tokens.word_ids[a:b] + pad_r)
            out["example_index"].append(i)
            out["window"].append(w)
            if token_tags is not None:
                out["labels"].append([IGNORE] * len(prefix) + token_tags[a:b] + [IGNORE] * len(suffix))
    return dict(out), split, lost


def pad_features(features: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase) -> dict[str, torch.Tensor]:
    """Pad to the longest feature: ``input_ids``/``attention_mask``/``labels`` as ``(B, T)`` tensors
    (``labels`` only when every feature has them; padding is ignored by the loss)."""
    import torch

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    length = max(len(f["input_ids"]) for f in features)
    batch = {
        "input_ids": torch.full((len(features), length), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(features), length), dtype=torch.long),
    }
    with_labels = all(f.get("labels") is not None for f in features)
    if with_labels:
        batch["labels"] = torch.full((len(features), length), IGNORE, dtype=torch.long)
    for i, f in enumerate(features):
        n = len(f["input_ids"])
        batch["input_ids"][i, :n] = torch.as_tensor(f["input_ids"])
        batch["attention_mask"][i, :n] = 1
        if with_labels:
            batch["labels"][i, :n] = torch.as_tensor(f["labels"])
    return batch
