"""Long documents: weigh each window by how alike it is to the training texts (a measured lead, not built).

``bench/classify_long.py`` shows why ``mean`` and ``max`` fail where the label sits in one passage after
unrelated text: the model reads the unrelated windows as confidently as the label-bearing one. This script
asks whether the model's own features can tell them apart. For each window it takes a feature vector (BERT's
pooled [CLS] output, the classifier's input; or the mean of the last hidden states, which every encoder has),
fits one Gaussian to the training texts' vectors, and weighs the windows of a document by
``exp(-(d - d_min) / (T * median))``, ``d`` the window's Mahalanobis distance (full covariance, or the K leading
principal directions plus one isotropic term for the rest), ``d_min`` the document's smallest, ``median`` the
training texts' median distance: windows unlike anything trained on barely count. Scored at windows of 128 and
64 tokens (stride a quarter), on the two long test sets of ``classify_long.py``.

``--others`` scores three weightings that need nothing learnt beyond the classifier (stop 37, all rejected): the
energy ``logsumexp(logits)`` (Liu et al. 2020) as ``exp(energy / T)``; the Mahalanobis distance of the *logits* to
the training texts'; and the odd window out, weighed by its distance to its own document's median window (the
probabilities or the feature vector), which needs no training statistics at all.

    python bench/classify_long.py                       # trains the model, prints its directory
    python bench/classify_long_typical.py --model-dir DIR   # ~10 min on 2 cores
    python bench/classify_long_typical.py --model-dir DIR --others   # ~10 min
    python bench/classify_long_typical.py --model-dir DIR --windows 48,32   # shorter windows
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

WINDOWS = (128, 64)
T = 0.1


def window_outputs(model, tokenizer, texts: list[str], length: int, feature: str):
    """``(owners, logits, vectors)`` of every window of ``texts`` (windows of ``length`` tokens, stride length // 4)."""
    import torch

    enc = tokenizer(texts, truncation=True, max_length=length, stride=length // 4, return_overflowing_tokens=True)
    owners, ids = np.array(enc["overflow_to_sample_mapping"]), enc["input_ids"]
    logits, vectors, kept = np.zeros((len(ids), model.num_labels)), np.zeros((len(ids), model.config.hidden_size)), []
    hook = model.classifier.register_forward_hook(lambda m, i, o: kept.append(i[0].detach()))
    with torch.inference_mode():
        for start in range(0, len(ids), 64):
            rows = list(range(start, min(start + 64, len(ids))))
            batch = tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt")
            kept.clear()
            out = model(**batch, output_hidden_states=True)
            logits[rows] = out.logits.numpy()
            if feature == "pooled":
                vectors[rows] = kept[0].numpy()
            else:
                mask = batch["attention_mask"].unsqueeze(-1).float()
                vectors[rows] = ((out.hidden_states[-1] * mask).sum(1) / mask.sum(1)).numpy()
    hook.remove()
    return owners, logits, vectors


def distance(train: np.ndarray, k: int | None):
    """Mahalanobis distance to ``train``'s Gaussian: full covariance (``k`` None) or ``k`` principal directions."""
    mean = train.mean(0)
    centred = train - mean
    if k is None:
        cov = centred.T @ centred / len(train)
        precision = np.linalg.inv(cov + 1e-6 * np.trace(cov) / len(cov) * np.eye(len(cov)))
        return lambda x: np.einsum("ij,jk,ik->i", x - mean, precision, x - mean)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variances = s**2 / len(train)
    rest = variances[k:].mean()

    def d(x: np.ndarray) -> np.ndarray:
        z = (x - mean) @ vt[:k].T
        return (z**2 / variances[:k]).sum(1) + (((x - mean) ** 2).sum(1) - (z**2).sum(1)) / rest

    return d


def softmax(logits: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def accuracy(owners, probs, weights, gold) -> float:
    scores = np.zeros((len(gold), probs.shape[1]))
    np.add.at(scores, owners, probs * weights[:, None])
    return float((scores.argmax(1) == gold).mean())


def weighted(owners: np.ndarray, z: np.ndarray, count: int) -> np.ndarray:
    """``exp(z - the document's largest z)``: each document's most typical window weighs 1."""
    best = np.full(count, -np.inf)
    np.maximum.at(best, owners, z)
    return np.exp(z - best[owners])


def odd_out(owners: np.ndarray, x: np.ndarray, count: int, t: float) -> np.ndarray:
    """Weights growing with a window's distance to its document's median window (in units of their median)."""
    z = np.zeros(len(owners))
    for doc in range(count):
        rows = np.flatnonzero(owners == doc)
        if len(rows) > 2:
            far = np.linalg.norm(x[rows] - np.median(x[rows], axis=0), axis=1)
            z[rows] = far / (t * (np.median(far) + 1e-9))
    return weighted(owners, z, count)


def others(model, tokenizer, train: list[dict], sets: dict[str, list[dict]], gold: np.ndarray,
           lengths: tuple[int, ...]) -> None:
    """The ``--others`` table: weightings from the logits, or from each document alone."""
    _, fitted, _ = window_outputs(model, tokenizer, [r["text"] for r in train], 128, "pooled")
    measure = distance(fitted, None)
    median = np.median(measure(fitted))
    ts = (0.5, 1.0, 2.0)
    print("| windows | test set | mean | energy, T " + " / ".join(map(str, ts)) + " | logit Mahalanobis, T 0.1 / 0.3 / 1 "
          "| odd out (probabilities), T " + " / ".join(map(str, ts)) + " | odd out (pooled vector), same T |")
    print("|---:|---|---:|---|---|---|---|")
    for length in lengths:
        for name, docs in sets.items():
            owners, logits, vectors = window_outputs(model, tokenizer, [r["text"] for r in docs], length, "pooled")
            probs, n = softmax(logits, 1), len(gold)
            energy = np.log(np.exp(logits).sum(1))

            def acc(weights: np.ndarray, owners: np.ndarray = owners, probs: np.ndarray = probs) -> str:
                return f"{accuracy(owners, probs, weights, gold):.3f}"

            cells = [acc(np.ones(len(owners))), " / ".join(acc(weighted(owners, energy / t, n)) for t in ts),
                     " / ".join(acc(weighted(owners, -measure(logits) / (t * median), n)) for t in (0.1, 0.3, 1.0)),
                     " / ".join(acc(odd_out(owners, probs, n, t)) for t in ts),
                     " / ".join(acc(odd_out(owners, vectors, n, t)) for t in ts)]
            print(f"| {length} | {name} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="a model bench/classify_long.py trained")
    parser.add_argument("--others", action="store_true", help="the rejected weightings (logits, the document alone)")
    parser.add_argument("--windows", default=",".join(map(str, WINDOWS)), help="window lengths in tokens (128,64)")
    args = parser.parse_args()
    lengths = tuple(int(n) for n in args.windows.split(","))
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from bench.classify_long import label_documents, long_documents
    from tasuki_sentiment.datasets import english_tweets

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_dir).eval()
    split = english_tweets(n=2500, test_size=0.2, seed=0)  # classify_long.py's split
    train, test = split["train"].to_list(), split["test"].to_list()
    labels = [model.config.id2label[i] for i in range(model.num_labels)]
    gold = np.array([labels.index(r["label"]) for r in test])
    sets = {"after news": long_documents(test), "among its label": label_documents(test)}
    print(f"load average before {os.getloadavg()}")
    if args.others:
        others(model, tokenizer, train, sets, gold, lengths)
        print(f"load average after {os.getloadavg()}")
        return
    print("| feature | windows | test set | mean | max | last window alone | typical, full | typical, K=8 | typical, K=32 |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for feature in ("pooled", "mean of last hidden states"):
        _, _, fitted = window_outputs(model, tokenizer, [r["text"] for r in train], 128, feature)
        measures = [distance(fitted, k) for k in (None, 8, 32)]
        medians = [np.median(m(fitted)) for m in measures]
        for length in lengths:
            for name, docs in sets.items():
                owners, logits, vectors = window_outputs(model, tokenizer, [r["text"] for r in docs], length, feature)
                probs, n = softmax(logits, 1), len(gold)
                top = np.full((n, probs.shape[1]), -np.inf)
                np.maximum.at(top, owners, probs)
                last = np.r_[owners[1:] != owners[:-1], True]
                cells = [accuracy(owners, probs, np.ones(len(owners)), gold), float((top.argmax(1) == gold).mean()),
                         float((probs[last].argmax(1) == gold).mean())]
                for measure, median in zip(measures, medians):
                    z = -measure(vectors) / (T * median)
                    best = np.full(n, -np.inf)
                    np.maximum.at(best, owners, z)
                    cells.append(accuracy(owners, probs, np.exp(z - best[owners]), gold))
                print(f"| {feature} | {length} | {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |", flush=True)
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
