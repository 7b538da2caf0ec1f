"""NER figures and the prediction benchmark, in one process.

    python bench/ner.py train-en   [--quick]   # MiniLM on the packaged English set: test F1
    python bench/ner.py train-ja   [--quick]   # e5-small on the seeded hironsan split: test F1
    python bench/ner.py throughput [--quick]   # tasuki predict vs pipeline("token-classification")

``throughput`` runs ``tasuki.load(dir).predict`` and ``transformers.pipeline(
"token-classification", aggregation_strategy="simple")`` on the same saved model and the same
1,000 texts (100 with ``--quick``), prints texts/s of each and their ratio, and the share of
texts on which both return identical entities (type, start, end). Without a model directory
(``--model``) it trains the English MiniLM model first (``train-en``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _train(kind: str, out: Path, quick: bool) -> dict:
    import tasuki
    from tasuki_ner import corpora

    if kind == "en":
        train, test = str(corpora.english_path("train")), str(corpora.english_path("test"))
        settings = {"backbone": "minilm", "lang": "en", "epochs": 2 if quick else 10, "learning_rate": 1e-4}
    else:
        train, test = corpora.hironsan("train"), corpora.hironsan("test")
        # epochs: the default rule (at least 500 steps: 20 epochs of 25 batches); the 250k-row
        # word-embedding matrix stays fixed, as in the measured run
        settings = {"backbone": "e5-small", "lang": "ja", "learning_rate": 1e-4, "freeze_embeddings": True,
                    **({"epochs": 1} if quick else {})}
        if quick:
            train, test = train[:60], test[:30]
    start = time.perf_counter()
    tasuki.train(
        "ner", data=train, eval_data=test, output_dir=str(out), batch_size=16, max_length=256, seed=0,
        progress=False, save_steps=0, **settings,
    )
    seconds = time.perf_counter() - start
    metrics = tasuki.evaluate(str(out), test)
    keep = {k: round(v, 4) for k, v in metrics.items() if isinstance(v, float) and not k.startswith("support")}
    print(json.dumps({"task": f"ner-{kind}", "settings": settings, "train_seconds": round(seconds, 1), **keep}))
    print(f"\n{'type':8} {'P':>6} {'R':>6} {'F1':>6}  support")
    for key in sorted(k for k in metrics if k.startswith("f1_")):
        kind_ = key[3:]
        print(f"{kind_:8} {metrics['precision_' + kind_]:6.3f} {metrics['recall_' + kind_]:6.3f} "
              f"{metrics[key]:6.3f}  {int(metrics['support_' + kind_])}")
    print(f"{'micro':8} {metrics['precision']:6.3f} {metrics['recall']:6.3f} {metrics['f1']:6.3f}")
    print(f"{'macro':8} {metrics['macro_precision']:6.3f} {metrics['macro_recall']:6.3f} {metrics['macro_f1']:6.3f}")
    return metrics


def _texts(n: int, seed: int = 0) -> list[str]:
    """n texts of 1-3 sentences drawn (seeded) from the packaged English set."""
    from tasuki_ner import corpora

    sentences = [" ".join(r["tokens"]) for split in ("train", "test") for r in corpora.english(split)]
    rng = random.Random(seed)
    return [" ".join(rng.sample(sentences, rng.randint(1, 3))) for _ in range(n)]


def _throughput(model_dir: Path, n: int, batch_size: int, repeats: int) -> None:
    import torch
    from transformers import pipeline

    import tasuki

    torch.set_num_threads(max(1, torch.get_num_threads()))
    texts = _texts(n)
    model = tasuki.load(model_dir, device="cpu")
    pipe = pipeline("token-classification", model=str(model_dir), aggregation_strategy="simple", device=-1)

    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.harness import timed_runs

    # the harness's one statistic: median over interleaved repeats (after a warm-up), with min-max
    seconds, results = timed_runs({"tasuki": lambda: model.predict(texts, batch_size=batch_size),
                                   "pipeline": lambda: pipe(texts, batch_size=batch_size)}, repeats, warmup=1)
    ours, ref = results["tasuki"], results["pipeline"]
    t_ours, t_ref = seconds["tasuki"].median, seconds["pipeline"].median
    same = sum(
        {(e["type"], e["start"], e["end"]) for e in a} == {(e["entity_group"], e["start"], e["end"]) for e in b}
        for a, b in zip(ours, ref)
    )
    n_entities = sum(len(a) for a in ours)
    print(f"\n{n} texts, batch size {batch_size}, median of {repeats} (min-max), CPU threads {torch.get_num_threads()}")
    print(f"{'':28} {'seconds':>8} {'texts/s':>8}  texts/s median (min-max)")
    print(f"{'tasuki predict':28} {t_ours:8.2f} {n / t_ours:8.1f}  {seconds['tasuki'].rate(n).text('.1f')}")
    print(f"{'pipeline (simple)':28} {t_ref:8.2f} {n / t_ref:8.1f}  {seconds['pipeline'].rate(n).text('.1f')}")
    print(f"throughput ratio tasuki / pipeline: {t_ref / t_ours:.2f}")
    print(f"identical entities: {same}/{n} texts ({same / n:.1%}); {n_entities} entities from tasuki")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["train-en", "train-ja", "throughput"])
    parser.add_argument("--quick", action="store_true", help="small data and few steps: checks the script runs")
    parser.add_argument("--model", type=Path, default=None, help="a trained ner model directory (throughput)")
    parser.add_argument("--out", type=Path, default=Path("out/bench-ner"))
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if args.what in ("train-en", "train-ja"):
        _train(args.what[-2:], args.out / args.what, args.quick)
        return
    model_dir = args.model or args.out / "train-en"
    if not (model_dir / "tasuki.json").is_file():
        _train("en", model_dir, args.quick)
    _throughput(model_dir, 100 if args.quick else 1000, args.batch_size, 1 if args.quick else 3)


if __name__ == "__main__":
    main()
