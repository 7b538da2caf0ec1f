"""Span search: parity with transformers' select_starts_ends, windows, and the no-answer threshold."""

from __future__ import annotations

import numpy as np
import pytest
from transformers.pipelines.document_question_answering import select_starts_ends

from tasuki_qa.spans import best_span, best_window_span, window_probabilities

CONTEXT = "abcdefghijklmnopqrstuvwxyz"


def window(n_question: int, n_context: int, first_char: int = 0) -> tuple[list, list]:
    """Offsets/word ids of [CLS] q.. [SEP] c.. [SEP], one character (and word) per context token."""
    offsets = [None] * (n_question + 2)
    offsets += [[first_char + i, first_char + i + 1] for i in range(n_context)] + [None]
    words = [None if o is None else o[0] for o in offsets]
    return offsets, words


@pytest.mark.parametrize("seed", range(20))
def test_window_span_matches_select_starts_ends(seed: int) -> None:
    rng = np.random.default_rng(seed)
    offsets, _ = window(3, 12)
    n = len(offsets)
    start, end = rng.normal(0, 3, n).astype(np.float32), rng.normal(0, 3, n).astype(np.float32)
    p_mask = np.array([o is None for o in offsets], dtype=int)
    p_mask[0] = 0
    s_ref, e_ref, score_ref, null_ref = select_starts_ends(start[None], end[None], p_mask[None],
                                                           np.ones((1, n), dtype=int), 1e6, 1, True, 4)
    allowed = p_mask == 0
    p_start, p_end = window_probabilities(start, allowed), window_probabilities(end, allowed)
    in_context = np.array([o is not None for o in offsets])
    s, e, score = best_window_span(p_start, p_end, in_context, 4)
    assert (s, e) == (s_ref[0], e_ref[0])
    assert score == pytest.approx(float(score_ref[0]), rel=1e-5)
    assert p_start[0] * p_end[0] == pytest.approx(null_ref, rel=1e-5)
    assert e - s < 4


def logits_for(offsets: list, start_at: int, end_at: int, strength: float = 8.0, cls: float = 0.0) -> tuple:
    start, end = np.zeros(len(offsets), np.float32), np.zeros(len(offsets), np.float32)
    start[start_at] = end[end_at] = strength
    start[0] = end[0] = cls
    return start, end


def test_best_window_wins_and_maps_to_characters() -> None:
    w1 = window(2, 10, first_char=0)
    w2 = window(2, 10, first_char=6)  # overlaps w1 by four characters
    weak = (*logits_for(w1[0], 6, 7, strength=3.0), *w1)
    strong = (*logits_for(w2[0], 10, 12, strength=9.0), *w2)
    span = best_span([weak, strong], CONTEXT)
    assert (span.start, span.end) == (12, 15) and span.answer == CONTEXT[12:15]
    assert span.as_dict() == {"answer": "mno", "score": span.score, "start": 12, "end": 15}


def test_max_answer_length_is_respected() -> None:
    offsets, words = window(1, 20)
    start, end = logits_for(offsets, 3, 15)
    span = best_span([(start, end, offsets, words)], CONTEXT, max_answer_length=5)
    assert span.end - span.start <= 5


def test_null_threshold_and_v1_mode() -> None:
    offsets, words = window(1, 8)
    start, end = logits_for(offsets, 4, 5, strength=2.0, cls=6.0)  # [CLS] most likely
    args = ([(start, end, offsets, words)], CONTEXT)
    unanswerable = best_span(*args)
    assert unanswerable.answer == "" and unanswerable.no_answer_score > 0
    assert unanswerable.best_span == (1, 3)  # the span it would have given, kept for tuning
    assert best_span(*args, null_threshold=unanswerable.no_answer_score + 0.01).answer == CONTEXT[1:3]
    assert best_span(*args, allow_impossible=False).answer == CONTEXT[1:3]


def test_align_to_words_widens_to_whole_words() -> None:
    context = "Edmund Hillary climbed"
    offsets = [None, None, None, [0, 3], [3, 6], [7, 10], [10, 14], [15, 22], None]
    words = [None, None, None, 0, 0, 1, 1, 2, None]
    start, end = logits_for(offsets, 4, 5)
    assert best_span([(start, end, offsets, words)], context).answer == "Edmund Hillary"
    assert best_span([(start, end, offsets, words)], context, align_to_words=False).answer == "und Hil"


def test_a_sentencepiece_answer_does_not_start_with_the_space() -> None:
    """``▁lives`` has the offsets (4, 10) of " lives" (XLM-R, E5): the answer was " lives in", start 4."""
    context = "john lives in paris"
    offsets = [None, [0, 0], None, [0, 4], [4, 10], [10, 13], [13, 19], None]  # [CLS] q [SEP] ▁john ▁lives ▁in ▁paris [SEP]
    words = [None, None, None, 0, 1, 2, 3, None]
    start, end = logits_for(offsets, 4, 5)
    span = best_span([(start, end, offsets, words)], context)
    assert (span.answer, span.start, span.end) == ("lives in", 5, 13)
    assert span.best_span == (5, 13)
