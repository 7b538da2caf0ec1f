"""Evaluation of sentence vectors: Spearman on scored pairs, recall@k / MRR on a retrieval set."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from tasuki_embedding.similarity import cos_sim, normalize_rows

logger = logging.getLogger(__name__)

RECALL_AT = (1, 5, 10)


def pair_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (N, H) arrays: (N,)."""
    return (normalize_rows(a) * normalize_rows(b)).sum(axis=1)


def correlation_metrics(a: np.ndarray, b: np.ndarray, scores: Sequence[float]) -> dict[str, float]:
    """Spearman and Pearson correlation between cos(a_i, b_i) and the gold ``scores``."""
    from scipy.stats import pearsonr, spearmanr

    cosines = pair_cosines(a, b)
    scores = np.asarray(scores, dtype=np.float64)
    if len(cosines) < 2 or np.ptp(scores) == 0 or np.ptp(cosines) == 0:  # undefined on constant input
        logger.warning("Spearman and Pearson are undefined (null in JSON) on these %d pairs: fewer than 2, or their "
                       "scores or cosines are all equal", len(cosines))
        return {"spearman": float("nan"), "pearson": float("nan")}
    return {"spearman": float(spearmanr(cosines, scores).statistic), "pearson": float(pearsonr(cosines, scores)[0])}


def retrieval_metrics(
    queries: np.ndarray,
    query_targets: Sequence[str],
    corpus: np.ndarray,
    corpus_texts: Sequence[str],
    ks: Sequence[int] = RECALL_AT,
) -> dict[str, float]:
    """Recall@k and MRR@10 of queries (Q, H) whose one relevant document is the corpus text ``query_targets[i]``.

    ``corpus_texts`` name the rows of ``corpus`` (N, H); documents are matched by text, so a
    text repeated in the corpus counts once.
    """
    rank = retrieval_ranks(queries, query_targets, corpus, corpus_texts)
    metrics = {f"recall@{k}": float(np.mean(rank <= k)) for k in ks}
    metrics["mrr@10"] = float(np.mean(np.where(rank <= 10, 1.0 / rank, 0.0)))
    return metrics


def retrieval_ranks(
    queries: np.ndarray, query_targets: Sequence[str], corpus: np.ndarray, corpus_texts: Sequence[str]
) -> np.ndarray:
    """Per query (Q, H), the rank of its relevant document: how many documents score strictly higher, plus one. ``(Q,)``

    Per-query ranks let a comparison of two models resample the same queries (a paired bootstrap).
    """
    position: dict[str, int] = {}
    for i, text in enumerate(corpus_texts):
        position.setdefault(text, i)
    target = np.array([position[t] for t in query_targets])  # (Q,)
    scores = cos_sim(queries, corpus)  # (Q, N)
    own = scores[np.arange(len(target)), target][:, None]  # (Q, 1)
    return (scores > own).sum(axis=1) + 1  # (Q,)


def triplet_accuracy(anchors: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> float:
    """Fraction of triplets whose anchor is closer (cosine) to its positive than to its negative."""
    return float(np.mean(pair_cosines(anchors, positives) > pair_cosines(anchors, negatives)))
