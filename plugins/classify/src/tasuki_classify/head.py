"""The few-shot recipe's head, fitted exactly: SetFit's logistic regression on the tuned encoder's vectors.

A linear head over a few dozen unit-length vectors is a small convex problem: scikit-learn's L-BFGS solves it
to its optimum in well under a second, where a few dozen Adam steps stop near it, in a flat valley whose far
ends score differently (16 tweets a label: 0.45 against 0.54 on 500 test tweets, at nearly the same loss).

Its penalty is chosen from the data (:func:`fit_logistic`): how far apart an encoder's unit vectors lie differs
between encoders, and a fixed ``C`` of 1 that suits MiniLM's tweets leaves e5-small's Japanese sentences, which lie
close together, with a head that barely moves from the label rates (16 sentences: every one called the most
common label on two samples of three).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import torch

C = 1.0
"""Inverse strength of the L2 penalty when it cannot be chosen (a label with one row): scikit-learn's default,
SetFit's head."""
CS = (0.25, 1.0, 4.0, 16.0, 64.0)
"""The inverse penalties :func:`fit_logistic` chooses among."""
FOLDS = 5
"""Cross-validation folds, at most (fewer when the rarest label has fewer rows)."""


def embed(sentence: torch.nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int,
          batch_size: int = 32) -> np.ndarray:
    """``(N, H)`` vectors of ``texts`` (each cut at ``max_length`` tokens), the encoder in eval mode."""
    import torch

    device = next(sentence.parameters()).device
    training = sentence.training
    sentence.eval()
    vectors = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[start:start + batch_size]), truncation=True, max_length=max_length,
                              padding=True, return_tensors="pt")
            vectors.append(sentence(batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu())
    sentence.train(training)
    return torch.cat(vectors).numpy()


def fit_logistic(vectors: np.ndarray, y: np.ndarray) -> tuple[Any, float]:
    """A logistic regression of ``y`` (class ids) on ``vectors`` and its ``C``: the one of :data:`CS` with the
    lowest held-out log loss over stratified folds (as many as the rarest class has rows, at most :data:`FOLDS`;
    seeded), chosen on the classes with two rows or more. :data:`C` when fewer than two such classes remain."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    classes, counts = np.unique(y, return_counts=True)
    kept = np.isin(y, classes[counts >= 2])
    chosen = C
    if len(np.unique(y[kept])) >= 2:
        folds = StratifiedKFold(min(FOLDS, int(counts[counts >= 2].min())), shuffle=True, random_state=0)
        search = GridSearchCV(LogisticRegression(max_iter=2000), {"C": list(CS)}, cv=folds, scoring="neg_log_loss")
        chosen = float(search.fit(vectors[kept], y[kept]).best_params_["C"])
    return LogisticRegression(C=chosen, max_iter=2000).fit(vectors, y), chosen


class Head(NamedTuple):
    """A fitted linear head: ``weight`` ``(L, H)``, ``bias`` ``(L,)`` and each output's inverse penalty ``c`` ``(L,)``."""

    weight: np.ndarray
    bias: np.ndarray
    c: np.ndarray


def logistic_head(vectors: np.ndarray, rows: Sequence[Sequence[str]], labels: Sequence[str],
                  multi_label: bool) -> Head:
    """An L2-penalised logistic regression (:func:`fit_logistic`) as a linear head: multinomial over the labels,
    or one binary regression per label when multi-label. A label every row has (or none has) gets weight 0
    and the bias of its rate, clipped to [0.01, 0.99]: no regression can be fitted on one class."""
    weight, c = np.zeros((len(labels), vectors.shape[1])), np.full(len(labels), C)
    if not multi_label:
        fitted, c[:] = fit_logistic(vectors, np.array([labels.index(r[0]) for r in rows]))
        bias = np.full(len(labels), -30.0)
        present = fitted.classes_
        if len(present) == 2:  # scikit-learn's binary form: one vector for the second class against the first
            weight[present[1]], bias[present[1]] = fitted.coef_[0], fitted.intercept_[0]
            bias[present[0]] = 0.0
        else:
            weight[present], bias[present] = fitted.coef_, fitted.intercept_
        return Head(weight, bias, c)
    bias = np.zeros(len(labels))
    for j, label in enumerate(labels):
        y = np.array([label in r for r in rows], dtype=int)
        if y.min() == y.max():
            rate = min(max(float(y.mean()), 0.01), 0.99)
            bias[j] = np.log(rate / (1 - rate))
            continue
        fitted, c[j] = fit_logistic(vectors, y)
        weight[j], bias[j] = fitted.coef_[0], fitted.intercept_[0]
    return Head(weight, bias, c)
