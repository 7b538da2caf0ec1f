"""From per-token scores to entity spans, with the aggregation strategies of ``transformers``.

The strategies mean what they mean in ``pipeline("token-classification")``:

- ``none``: one entry per token whose best label is not ``O`` (``type`` is the full tag);
- ``simple``: tokens grouped by tag (``B-`` starts a new entity), score = mean of token scores.
  Under both, tokens over the same characters count as one token with the first one's label, the one
  training gives the word's tag (:func:`_shared_characters`): never two entities over one character;
- ``first`` / ``average`` / ``max``: each word first takes one label (its first token's, the
  average of its tokens' scores, or its most confident token's), then words are grouped.

The differences are where this plugin knows more than the pipeline: word boundaries come
from the same words training used (MeCab words for Japanese, where the pipeline's space
heuristic sees a whole sentence as one word), and ``text`` is the original substring
``text[start:end]`` rather than detokenized word pieces.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tasuki.plugin import strip_span

STRATEGIES = ("none", "simple", "first", "average", "max")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, C)`` logits, computed in float64 like the pipeline's numpy code."""
    logits = logits.astype(np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def merge_windows(pieces: Sequence[tuple[Sequence[int], np.ndarray]]) -> np.ndarray:
    """Merge overlapping windows into one ``(N, C)`` array over the text's tokens.

    :param pieces: per window, the global token index of each position (-1 for special
        tokens) and that window's ``(T, C)`` logits. Each token keeps the scores from the window
        where it sits farthest from an edge, i.e. where it saw the most context.
    """
    n = 1 + max((max(p) for p, _ in pieces if len(p)), default=-1)
    n_labels = pieces[0][1].shape[-1]
    merged = np.zeros((n, n_labels), dtype=np.float32)
    best = np.full(n, -1)
    for positions, logits in pieces:
        content = [(j, g) for j, g in enumerate(positions) if g >= 0]
        for k, (j, g) in enumerate(content):
            distance = min(k, len(content) - 1 - k)
            if distance > best[g]:
                best[g] = distance
                merged[g] = logits[j]
    return merged


def _split_tag(label: str) -> tuple[str, str]:
    """``("B", "PER")``; a label without a B-/I- prefix counts as a continuation, as in the pipeline."""
    if label.startswith(("B-", "I-")):
        return label[0], label[2:]
    return "I", label


def _words(word_ids: Sequence[int]) -> list[list[int]]:
    """Token indices grouped into words: a token continues a word when it has the same word id."""
    groups: list[list[int]] = []
    for t, word in enumerate(word_ids):
        if groups and word >= 0 and word == word_ids[t - 1]:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def _shared_characters(offsets: Sequence[Sequence[int]]) -> list[list[int]]:
    """Token indices, one group per token, except that tokens over the same characters are one group: the bare
    ``▁`` a SentencePiece tokenizer puts before a word it cannot join (``ｵｵｻｶ``, NFKC ``オオサカ``) takes that
    word's first character's offsets, and the pieces of a character NFKC expands (``㈱``: ``▁(``, ``株``, ``)``)
    all have its offsets. Token by token, ``B-`` on each piece made overlapping or repeated entities."""
    groups: list[list[int]] = []
    end = -1
    for t, (start, stop) in enumerate(offsets):
        if groups and start < end:
            groups[-1].append(t)
            end = max(end, int(stop))
        else:
            groups.append([t])
            end = int(stop)
    return groups


def aggregate(
    text: str,
    probs: np.ndarray,
    offsets: Sequence[Sequence[int]],
    word_ids: Sequence[int],
    id2label: dict[int, str],
    strategy: str = "simple",
) -> list[dict[str, Any]]:
    """Entities ``{text, type, start, end, score}`` from token probabilities ``(N, C)`` of one text."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown aggregation strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    items = []  # (label, score, start, end, token index)
    groups = _shared_characters(offsets) if strategy in ("none", "simple") else _words(word_ids)
    for group in groups:
        rows = probs[group]
        if strategy in ("first", "none", "simple"):  # none/simple: pieces over shared characters take the first's
            row = rows[0]
        elif strategy == "max":
            row = rows[int(rows.max(axis=-1).argmax())]
        else:
            row = np.nanmean(rows, axis=0)
        best = int(row.argmax())
        start = min(int(offsets[t][0]) for t in group)
        end = max(int(offsets[t][1]) for t in group)
        items.append((id2label[best], float(row[best]), start, end, group[0]))
    if strategy == "none":
        entities = [{"type": label, "start": s, "end": e, "score": score, "index": t} for label, score, s, e, t in items]
    else:
        entities = _group(items)
    out = []
    for entity in entities:  # an entity's span without the space a SentencePiece token (▁) holds at either end
        start, end = strip_span(text, entity["start"], entity["end"])
        if entity["type"] != "O" and start < end:
            out.append({"text": text[start:end], **entity, "start": start, "end": end})
    return out


def _group(items: list[tuple]) -> list[dict[str, Any]]:
    """Adjacent items of one type, a ``B-`` starting a new group (the pipeline's ``group_entities``)."""
    groups: list[list[tuple]] = []
    for item in items:
        prefix, kind = _split_tag(item[0])
        if groups and prefix != "B" and kind == _split_tag(groups[-1][-1][0])[1]:
            groups[-1].append(item)
        else:
            groups.append([item])
    out = []
    for group in groups:
        out.append(
            {
                "type": group[0][0].split("-", 1)[-1],
                "start": group[0][2],
                "end": group[-1][3],
                "score": float(np.mean([item[1] for item in group])),
            }
        )
    return out


def merged_examples(outputs: Any, features: Any, examples: Any, num_labels: int) -> Iterator[tuple[dict, dict]]:
    """Per example: the row, and its windows merged into token arrays ``logits (N, C)``, ``offsets``, ``word_ids``."""
    groups: list[list[int]] = []
    for f, window in enumerate(features["window"]):
        if window == 0:
            groups.append([])
        groups[-1].append(f)
    if len(groups) != len(examples):
        raise ValueError(f"{len(groups)} feature groups for {len(examples)} examples: features out of order?")
    columns = {name: features[name] for name in ("positions", "offsets", "word_ids")}
    for row, group in zip(examples, groups):
        pieces = []
        n = 1 + max((max(columns["positions"][f], default=-1) for f in group), default=-1)
        offsets = np.zeros((n, 2), dtype=np.int64)
        word_ids = np.full(n, -1, dtype=np.int64)
        for f in group:
            positions = columns["positions"][f]
            logits = np.asarray(outputs[f]["logits"])[: len(positions)]  # trim the runner's padding
            pieces.append((positions, logits))
            for j, g in enumerate(positions):
                if g >= 0:
                    offsets[g] = columns["offsets"][f][j]
                    word_ids[g] = columns["word_ids"][f][j]
        logits = merge_windows(pieces) if n else np.zeros((0, num_labels), dtype=np.float32)
        yield row, {"logits": logits, "offsets": offsets, "word_ids": word_ids}
