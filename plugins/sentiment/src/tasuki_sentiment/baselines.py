"""Classifiers to compare fine-tuning with: TF-IDF + logistic regression, and frozen-encoder features.

Both train on exactly the split the fine-tuned model trains on and report the same metrics, computed by
the ``sentiment`` task itself (:func:`task_metrics`), so the numbers sit side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class BaselineResult:
    """Scores of one baseline on the test split, and its predictions (label names)."""

    name: str
    metrics: dict[str, float]
    predictions: list[str]


def _ids(values: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.asarray([index[str(v)] for v in values], dtype=np.int64)


def task_metrics(gold: np.ndarray, predicted: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """What the ``sentiment`` task reports for class ids ``predicted`` against ``gold`` (both ``(N,)``, ids into
    ``labels``): accuracy, weighted and macro F1, per-label scores and confusion counts, computed by the
    registered task's own ``compute_metrics`` (the code that scores the fine-tuned model)."""
    from datasets import Dataset

    import tasuki

    task = tasuki.make_task("sentiment", labels=list(labels))
    one_hot = np.eye(len(labels), dtype=np.float32)  # (L, L): a prediction's logits, its argmax the predicted id
    outputs = [{"logits": one_hot[i]} for i in predicted]
    features = Dataset.from_dict({"labels": [int(i) for i in gold]})
    return task.compute_metrics(outputs, features, Dataset.from_dict({"label": [labels[i] for i in gold]}))


def japanese_words(text: str) -> list[str]:
    """MeCab words: TF-IDF needs words, and Japanese writes none apart."""
    from tasuki.plugin import split_words

    return [w.text for w in split_words(text)]


def tfidf_logreg(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    *,
    lang: str = "en",
    seed: int = 0,
) -> BaselineResult:
    """TF-IDF of word uni- and bigrams (MeCab words for Japanese) + a logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    labels = sorted(set(map(str, train_labels)))
    if lang == "ja":
        vectorizer = TfidfVectorizer(tokenizer=japanese_words, token_pattern=None, lowercase=False, ngram_range=(1, 2))
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    model = make_pipeline(vectorizer, LogisticRegression(max_iter=2000, C=10.0, random_state=seed))
    model.fit(list(train_texts), _ids(train_labels, labels))
    predicted = model.predict(list(test_texts))
    metrics = task_metrics(_ids(test_labels, labels), predicted, labels)
    return BaselineResult("TF-IDF + logistic regression", metrics, [labels[i] for i in predicted])


def encoder_features(
    backbone: Any, texts: Sequence[str], *, pooling: str = "mean", batch_size: int = 64, max_length: int = 128,
    progress: str | None = None,
) -> np.ndarray:
    """Hidden states of a frozen encoder, pooled per text: ``(N, hidden)``.

    :param backbone: a :class:`tasuki.backbone.Backbone` or anything ``--backbone`` accepts.
    :param pooling: ``"cls"`` (the first token's state) or ``"mean"`` (mean over real tokens: what
        sentence encoders such as MiniLM and E5 were trained to produce).
    :param progress: with a description, a progress bar on stderr (minutes on CPU for thousands of texts).
    """
    import sys

    import torch
    from tqdm.auto import tqdm

    from tasuki.plugin import resolve_backbone

    if pooling not in ("cls", "mean"):
        raise ValueError(f"pooling must be 'cls' or 'mean', not {pooling!r}")
    backbone = resolve_backbone(backbone)
    tokenizer = backbone.tokenizer
    encoder = backbone.encoder().eval()
    # Sort by length so that each batch pads little; put rows back in order at the end.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    chunks: list[np.ndarray] = []
    bar = tqdm(total=len(order), desc=progress, unit="text", file=sys.stderr, disable=progress is None,
               dynamic_ncols=True)
    with torch.inference_mode(), bar:
        for start in range(0, len(order), batch_size):
            batch_texts = [texts[i] for i in order[start : start + batch_size]]
            batch = tokenizer(batch_texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            hidden = encoder(**batch).last_hidden_state  # (B, T, H)
            if pooling == "cls":
                pooled = hidden[:, 0]  # (B, H)
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, H)
            chunks.append(pooled.float().numpy())
            bar.update(len(batch_texts))
    stacked = np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)
    features = np.empty_like(stacked)
    features[np.asarray(order)] = stacked
    return features


def frozen_features_logreg(
    backbone: Any,
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    *,
    pooling: str = "mean",
    max_length: int = 128,
    seed: int = 0,
    progress: bool = False,
) -> BaselineResult:
    """A logistic regression on frozen-encoder features (no fine-tuning); ``progress``: bars on stderr."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tasuki.plugin import resolve_backbone

    backbone = resolve_backbone(backbone)
    labels = sorted(set(map(str, train_labels)))
    x_train = encoder_features(backbone, list(train_texts), pooling=pooling, max_length=max_length,
                               progress="frozen features, train" if progress else None)
    x_test = encoder_features(backbone, list(test_texts), pooling=pooling, max_length=max_length,
                              progress="frozen features, test" if progress else None)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.5, random_state=seed))
    model.fit(x_train, _ids(train_labels, labels))
    predicted = model.predict(x_test)
    metrics = task_metrics(_ids(test_labels, labels), predicted, labels)
    return BaselineResult(f"frozen {backbone.spec} ({pooling} pooling) + logistic regression", metrics,
                          [labels[i] for i in predicted])
