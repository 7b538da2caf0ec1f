"""SQuAD exact match and F1, with the official v2.0 normalization and no-answer threshold search.

English follows the official ``evaluate-v2.0.py``: lower-case, strip punctuation and the
articles a/an/the, split on whitespace, token-level F1. Japanese has no spaces, so its F1 is
over characters (after NFKC, removing whitespace and punctuation). Scores are percentages.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD normalization: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def normalize_answer_ja(text: str) -> str:
    """Japanese normalization: NFKC, lower case, no whitespace, no punctuation (any Unicode P* category)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith("P"))


def answer_tokens(text: str, lang: str = "en") -> list[str]:
    """The units F1 counts: whitespace tokens (en) or characters (ja), after normalization."""
    return list(normalize_answer_ja(text)) if lang == "ja" else normalize_answer(text).split()


def exact_match(prediction: str, gold: str, lang: str = "en") -> int:
    """1 if the normalized strings are equal."""
    norm = normalize_answer_ja if lang == "ja" else normalize_answer
    return int(norm(prediction) == norm(gold))


def f1_score(prediction: str, gold: str, lang: str = "en") -> float:
    """Token-level (en) or character-level (ja) F1; an empty side scores 1 only if both are empty."""
    pred, ref = answer_tokens(prediction, lang), answer_tokens(gold, lang)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def squad_scores(
    predictions: Sequence[str], references: Sequence[Sequence[str]], lang: str = "en"
) -> tuple[list[float], list[float]]:
    """Per-question (exact, f1), each the best over gold answers; no gold answer means the gold is ``""``."""
    exact, f1 = [], []
    for pred, golds in zip(predictions, references, strict=True):
        golds = gold_answers(golds, lang)
        exact.append(float(max(exact_match(pred, g, lang) for g in golds)))
        f1.append(max(f1_score(pred, g, lang) for g in golds))
    return exact, f1


def gold_answers(golds: Sequence[str], lang: str = "en") -> list[str]:
    """Gold texts that survive normalization, or ``[""]`` (as the official script does)."""
    norm = normalize_answer_ja if lang == "ja" else normalize_answer
    return [g for g in golds if norm(g)] or [""]


def squad_v2_metrics(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    lang: str = "en",
    no_answer_scores: Sequence[float] | None = None,
    span_predictions: Sequence[str] | None = None,
) -> dict[str, float]:
    """``exact``, ``f1``, the HasAns/NoAns breakdown and, given no-answer scores, the best threshold.

    :param no_answer_scores: per question, how strongly the model prefers "no answer" (higher =
        more); predicting "" where the score exceeds a threshold is what ``best_*_thresh`` tunes.
    :param span_predictions: the best non-empty span per question, even where the prediction is
        "" (default: ``predictions``); the threshold search answers with these, so it can lower
        the threshold as well as raise it.
    """
    exact, f1 = squad_scores(predictions, references, lang)
    has_answer = [gold_answers(golds, lang) != [""] for golds in references]
    n = len(exact)
    metrics: dict[str, float] = {"exact": _pct(exact), "f1": _pct(f1), "total": float(n)}
    for name, flag in (("HasAns", True), ("NoAns", False)):
        idx = [i for i in range(n) if has_answer[i] == flag]
        if idx:
            metrics[f"{name}_exact"] = _pct([exact[i] for i in idx])
            metrics[f"{name}_f1"] = _pct([f1[i] for i in idx])
            metrics[f"{name}_total"] = float(len(idx))
    if no_answer_scores is not None and n:
        spans = list(span_predictions) if span_predictions is not None else list(predictions)
        span_exact, span_f1 = squad_scores(spans, references, lang)
        for name, scores in (("exact", span_exact), ("f1", span_f1)):
            best, thresh = best_threshold(spans, scores, no_answer_scores, has_answer)
            metrics[f"best_{name}"] = best
            metrics[f"best_{name}_thresh"] = thresh
    return metrics


def best_threshold(
    predictions: Sequence[str],
    scores: Sequence[float],
    no_answer_scores: Sequence[float],
    has_answer: Sequence[bool],
) -> tuple[float, float]:
    """The official ``find_best_thresh``: the threshold on no-answer scores with the best total score.

    ``predictions``/``scores`` are those made with the model's own span (the score of each
    against its gold). Returns ``(best score in %, threshold)``: predict "" where
    ``no_answer_score > threshold``. One fix over the official script: questions with equal
    no-answer scores are answered together, since no threshold separates them (the official
    loop can report a total that no threshold gives when scores tie).
    """
    # Start from "abstain on every question" (right exactly on the unanswerable ones), then
    # answer questions in increasing order of no-answer score, keeping the best running total.
    current = best = float(sum(1 for h in has_answer if not h))
    thresh = min(no_answer_scores) - 1.0
    order = sorted(range(len(scores)), key=lambda i: no_answer_scores[i])
    for k, i in enumerate(order):
        if has_answer[i]:
            current += scores[i]
        elif predictions[i]:
            current -= 1.0
        tie_continues = k + 1 < len(order) and no_answer_scores[order[k + 1]] == no_answer_scores[i]
        if current > best and not tie_continues:
            best, thresh = current, float(no_answer_scores[i])
    return 100.0 * best / len(scores), float(thresh)


def references_of(answers: Sequence[Mapping[str, Sequence[str]]]) -> list[list[str]]:
    """Gold answer texts per question from ``answers`` columns."""
    return [list(a["text"]) for a in answers]


def _pct(values: Sequence[float]) -> float:
    return 100.0 * sum(values) / len(values) if values else 0.0
