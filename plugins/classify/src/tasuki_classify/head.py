"""Linear heads: the few-shot recipe's, fitted exactly (SetFit's logistic regression on the tuned encoder's vectors),
and the start of a multi-label head trained end to end (:func:`start_at_rates`).

A linear head over a few dozen unit-length vectors is a small convex problem: scikit-learn's L-BFGS solves it
to its optimum in well under a second, where a few dozen Adam steps stop near it, in a flat valley whose far
ends score differently (16 tweets a label: 0.45 against 0.54 on 500 test tweets, at nearly the same loss).

Two corrections to SetFit's head, both measured on data where it fails (``bench/RESULTS.md``):

- **The penalty follows the vectors' spread** (:func:`penalty`): a fixed ``C`` of 1 assumes how far apart the
  vectors lie, and e5-small's Japanese sentences lie close together (a quarter of MiniLM's tweets' spread), so
  the penalty flattened the head to the label rates.
- **Labels weigh alike** (single-label: ``class_weight="balanced"``): with a few dozen texts and a strong penalty,
  the intercept decides, and an uneven sample (7 / 6 / 3 sentences) made the head call every sentence the most
  common label. On a balanced sample this changes nothing. (Multi-label keeps each label's own rate: its
  binary regressions are not measured here yet.)

Choosing ``C`` by cross-validation on the training texts was tried and is biased: the encoder was tuned on
pairs of those very texts, so they separate better than new ones and the folds ask for too weak a penalty
(16 tweets a label: ``C`` 16 chosen every time, 1.3 points below ``C`` 1 on the test set).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

C = 1.0
"""Inverse strength of the L2 penalty for vectors whose mean squared distance to their centre is 1 (SetFit's,
scikit-learn's default; unit vectors spread like MiniLM's tweets are about 0.6 from their centre)."""


def penalty(vectors: np.ndarray) -> float:
    """``C`` for ``vectors``: :data:`C` over their mean squared distance to their centre (the same as scaling the
    vectors to a spread of 1 at ``C``; ``C`` itself when they do not spread at all)."""
    spread = float(((vectors - vectors.mean(axis=0)) ** 2).sum(axis=1).mean()) if len(vectors) else 0.0
    return C / spread if spread > 1e-12 else C


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


def fit_logistic(vectors: np.ndarray, y: np.ndarray, c: float, *, balanced: bool,
                 weights: Sequence[float] | None = None) -> Any:
    """A logistic regression of ``y`` (class ids) on ``vectors`` at inverse penalty ``c``; ``balanced``: each
    class's rows weigh ``rows / (classes * its rows)``, so every class weighs alike; ``weights``: the user's
    weight of each class id instead (``--option class_weights``)."""
    from sklearn.linear_model import LogisticRegression

    chosen = dict(enumerate(weights)) if weights is not None else "balanced" if balanced else None
    return LogisticRegression(C=c, class_weight=chosen, max_iter=2000).fit(vectors, y)


class Head(NamedTuple):
    """A fitted linear head: ``weight`` ``(L, H)``, ``bias`` ``(L,)`` and the inverse penalty ``c`` it was fitted at."""

    weight: np.ndarray
    bias: np.ndarray
    c: float


def logistic_head(vectors: np.ndarray, rows: Sequence[Sequence[str]], labels: Sequence[str],
                  multi_label: bool, weights: Sequence[float] | None = None) -> Head:
    """An L2-penalised logistic regression at :func:`penalty` as a linear head: multinomial over the labels (classes
    weighed alike), or one binary regression per label when multi-label. A label every row has (or none has) gets
    weight 0 and the bias of its rate, clipped to [0.01, 0.99]: no regression can be fitted on one class. Single-label
    ``weights`` (one a label, ``--option class_weights``) replace the classes' equal weighing."""
    weight, c = np.zeros((len(labels), vectors.shape[1])), penalty(vectors)
    if not multi_label:
        fitted = fit_logistic(vectors, np.array([labels.index(r[0]) for r in rows]), c, balanced=True, weights=weights)
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
        fitted = fit_logistic(vectors, y, c, balanced=False)
        weight[j], bias[j] = fitted.coef_[0], fitted.intercept_[0]
    return Head(weight, bias, c)


def one_answer_for_all(fitted: Head, vectors: np.ndarray, multi_label: bool) -> tuple[int, ...] | None:
    """The answer a head gives every one of ``vectors`` (its own training texts), else ``None``: the label id, or
    for multi-label the ids of the labels over 0.5 (maybe none). A head that gives all of its training texts one
    answer has learnt nothing from them, and a few-shot run has no held-out texts to show it."""
    if len(vectors) < 2:
        return None
    logits = vectors @ fitted.weight.T + fitted.bias
    answers = {tuple(np.flatnonzero(row > 0)) if multi_label else (int(row.argmax()),) for row in logits}
    return answers.pop() if len(answers) == 1 else None


def start_at_rates(model: torch.nn.Module, rates: Sequence[float]) -> None:
    """Set the bias of ``model``'s output layer (its last linear layer with one output per label) to the log-odds
    of ``rates``, clipped to [0.01, 0.99], so that its sigmoids start at the labels' rates."""
    import torch

    outputs = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == len(rates)
               and m.bias is not None]
    if not outputs:
        log.debug("classify: no output layer with %d outputs found: the head starts at 0.5", len(rates))
        return
    clipped = torch.tensor(rates, dtype=torch.float32).clamp(0.01, 0.99)
    with torch.no_grad():
        outputs[-1].bias.copy_(torch.log(clipped / (1 - clipped)))
