"""From start/end logits over an example's windows to its best answer span (or no answer).

Scoring follows the ``question-answering`` pipeline of ``transformers`` v4 (and its
``select_starts_ends``, still in v5), so that a saved model gives the same answers there:
per window, a softmax over the tokens that may hold an answer (context tokens and
[CLS]); a span scores ``p_start * p_end`` with ``start <= end < start + max_answer_length``;
the best span over all windows wins. The no-answer score is the smallest
``p_start[CLS] * p_end[CLS]`` over the windows, and the question is declared unanswerable
when ``null_score - best_score > null_threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tasuki.plugin import strip_span
from tasuki_qa.features import CLS_INDEX


@dataclass
class Span:
    """The answer to one question: ``context[start:end] == answer``; ``answer == ""`` when unanswerable."""

    answer: str
    score: float
    start: int
    end: int
    null_score: float
    """``p_start[CLS] * p_end[CLS]`` of the most confident window (the smallest over windows)."""
    best_span_score: float
    """The score of the best non-empty span, kept when the answer is ``""``."""
    best_span: tuple[int, int] = (0, 0)

    @property
    def no_answer_score(self) -> float:
        """How much more the model believes in "no answer" than in its best span (threshold this)."""
        return self.null_score - self.best_span_score

    def as_dict(self) -> dict[str, object]:
        """The user-facing prediction."""
        return {"answer": self.answer, "score": self.score, "start": self.start, "end": self.end}


def window_probabilities(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Softmax over the allowed tokens; ``-10000`` elsewhere as the pipeline does. ``(T,) -> (T,)``."""
    masked = np.where(allowed, logits, np.float32(-10000.0)).astype(np.float32)
    probs = np.exp(masked - masked.max())
    return probs / probs.sum()


def best_window_span(
    p_start: np.ndarray, p_end: np.ndarray, candidates: np.ndarray, max_answer_length: int
) -> tuple[int, int, float]:
    """The best ``(start, end, p_start * p_end)`` in one window over candidate tokens. ``(T,), (T,) -> ...``."""
    idx = np.flatnonzero(candidates)
    if idx.size == 0:
        return CLS_INDEX, CLS_INDEX, 0.0
    scores = np.outer(p_start[idx], p_end[idx])  # (C, C): start along rows, end along columns
    # Keep end >= start and end - start < max_answer_length, measured in token positions.
    gap = idx[None, :] - idx[:, None]
    scores = np.where((gap >= 0) & (gap < max_answer_length), scores, 0.0)
    flat = int(np.argmax(scores))
    s, e = divmod(flat, idx.size)
    return int(idx[s]), int(idx[e]), float(scores[s, e])


def best_span(
    windows: Sequence[tuple[np.ndarray, np.ndarray, list, list]],
    context: str,
    *,
    max_answer_length: int = 30,
    null_threshold: float = 0.0,
    allow_impossible: bool = True,
    align_to_words: bool = True,
) -> Span:
    """Pick the answer of one example from its windows.

    :param windows: per window ``(start_logits (T,), end_logits (T,), offset_mapping, word_ids)``,
        logits already trimmed to the window's length.
    :param align_to_words: widen the span to whole words (as the pipeline does by default).
    """
    best: tuple[float, int, int, int] | None = None  # (score, window, start token, end token)
    null_score = float("inf")
    for w, (start_logits, end_logits, offsets, _) in enumerate(windows):
        in_context = np.array([o is not None for o in offsets])
        allowed = in_context.copy()
        allowed[CLS_INDEX] = True  # [CLS] stays in the softmax: it is the "no answer" position
        p_start = window_probabilities(np.asarray(start_logits, dtype=np.float32), allowed)
        p_end = window_probabilities(np.asarray(end_logits, dtype=np.float32), allowed)
        null_score = min(null_score, float(p_start[CLS_INDEX] * p_end[CLS_INDEX]))
        s, e, score = best_window_span(p_start, p_end, in_context, max_answer_length)
        # Strictly greater: on a tie the earlier window wins, as the pipeline's stable sort does.
        if score > 0 and (best is None or score > best[0]):
            best = (score, w, s, e)
    if best is None:
        return Span("", null_score, 0, 0, null_score, 0.0)
    score, w, s, e = best
    offsets, word_ids = windows[w][2], windows[w][3]
    start, end = offsets[s][0], offsets[e][1]
    if align_to_words:  # a token over whitespace only has no word: it keeps its own offsets
        if word_ids[s] is not None:
            start = min(o[0] for o, wid in zip(offsets, word_ids) if wid == word_ids[s])
        if word_ids[e] is not None:
            end = max(o[1] for o, wid in zip(offsets, word_ids) if wid == word_ids[e])
    start, end = strip_span(context, start, end)  # a SentencePiece token's offsets hold the space before it
    span = Span(context[start:end], score, start, end, null_score, score, (start, end))
    if allow_impossible and null_score - score > null_threshold:
        return Span("", null_score, 0, 0, null_score, score, (start, end))
    return span
