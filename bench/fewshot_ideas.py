"""Two ideas against the few-shot plateau at 8 and 16 a label, each against tasuki's defaults on the same samples.

- ``select``: choose the tuned share ``w`` (WiSE-FT: 0 the pretrained encoder, 0.5 the default, 1 the tuned one,
  SetFit's) per sample by 2-fold cross-fitting: the recipe is trained on each half of the labelled examples (halves
  stratified by label) and its head, under each ``w``, scored on the other half; the best mean wins (ties: the
  default), and the test accuracy of the model trained on all examples under that ``w`` is reported with the
  default's. ``bench/fewshot_grid.py`` found ``w`` = 0 best on e5's Japanese and 1 on BBC topics: a selector
  could take each data set's best. About 2x the training time.
- ``label-names``: each label's name added as one more example of it (``{"text": "positive", "label":
  "positive"}``): information SetFit does not use. Trained with the defaults beside the plain sample.

Same samples, test sets and ``MAX_LENGTH`` as ``bench/fewshot.py``; SetFit's accuracy on each sample is read
from ``bench/fewshot.json`` (its 5-seed run) for the table.

    python bench/fewshot_ideas.py select --sets tweets,bbc,ja --sizes 8,16 --seeds 5
    python bench/fewshot_ideas.py label-names --sets tweets,bbc,ja --sizes 8 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import fewshot as bench
from bench import fewshot_grid as grid

DEFAULT = "w0.5_C1.0"


def train(rows: list[tuple[str, str]], backbone: str, seed: int, out: Path) -> None:
    import tasuki

    tasuki.train("classify", [{"text": t, "label": label} for t, label in rows], backbone=backbone, output_dir=out,
                 seed=seed, max_length=bench.MAX_LENGTH, progress=False, task_options={"recipe": "few-shot"})


def select(sample: list[tuple[str, str]], test: list, backbone: str, seed: int, scratch: Path, captured: dict) -> dict:
    """Cross-fitted choice of ``w``; the test accuracy under it and under the default."""
    by_label: dict[str, list] = {}
    for row in sample:
        by_label.setdefault(row[1], []).append(row)
    halves = ([r for rows in by_label.values() for r in rows[0::2]], [r for rows in by_label.values() for r in rows[1::2]])
    held: dict[str, float] = {}
    for i, (fit, check) in enumerate((halves, halves[::-1])):
        train(fit, backbone, seed, scratch / f"half{i}")
        for key, value in grid.grid(fit, check, backbone, captured).items():
            held[key] = held.get(key, 0.0) + value / 2
    chosen = max(held, key=lambda key: (round(held[key], 6), key == DEFAULT))
    train(sample, backbone, seed, scratch / "all")
    scores = grid.grid(sample, test, backbone, captured)
    return {"held_out": held, "chosen": chosen, "test": scores, "default": scores[DEFAULT], "idea": scores[chosen]}


def label_names(sample: list[tuple[str, str]], test: list, backbone: str, seed: int, scratch: Path) -> dict:
    """The defaults on the sample, and on the sample plus each label's name as one example of it."""
    import tasuki

    out = {}
    for key, rows in (("default", sample), ("idea", sample + [(label, label) for label in sorted({lb for _, lb in sample})])):
        train(rows, backbone, seed, scratch / key)
        predicted = [p["label"] for p in tasuki.load(scratch / key).predict([t for t, _ in test])]
        out[key] = bench.accuracy(predicted, test)
    return out


def report(results: list[dict]) -> str:
    lines = ["| set | per label | defaults | idea | idea - defaults | SetFit 1.2 | idea - SetFit | seeds |",
             "|---|---|---|---|---|---|---|---|"]
    for name, k in sorted({(r["set"], r["k"]) for r in results}):
        rows = [r for r in results if r["set"] == name and r["k"] == k]
        base, idea = [r["default"] for r in rows], [r["idea"] for r in rows]
        setfit = [r["setfit"] for r in rows if r["setfit"] is not None]
        gap = statistics.mean(i - b for i, b in zip(idea, base))
        vs = f"{(statistics.mean(idea) - statistics.mean(setfit)) * 100:+.1f} pts" if len(setfit) == len(rows) else "-"
        lines.append(f"| {name} | {k} | {bench.summary(base)} | {bench.summary(idea)} | {gap * 100:+.1f} pts | "
                     f"{bench.summary(setfit) if setfit else '-'} | {vs} | {len(rows)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("idea", choices=("select", "label-names"))
    parser.add_argument("--sets", default="tweets,bbc,ja")
    parser.add_argument("--sizes", default="8,16")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=None, help="results (default bench/fewshot_<idea>.json); cells in it are kept")
    args = parser.parse_args()
    out = Path(args.out or f"bench/fewshot_{args.idea.replace('-', '_')}.json")
    results = json.loads(out.read_text()) if out.is_file() else []
    done = {(r["set"], r["k"], r["seed"]) for r in results}
    setfit = {(r["set"], r["k"], r["seed"]): r["setfit"]["accuracy"]
              for r in json.loads(Path("bench/fewshot.json").read_text())["results"] if "setfit" in r}
    captured = grid.capture_tuned_weights() if args.idea == "select" else {}
    grid.SHARES, grid.CS = (0.0, 0.5, 1.0), (1.0,)
    sets = {name: bench.data_set(name, 1000 if name != "bbc" else 500) for name in args.sets.split(",")}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            for name, (pool, test, backbone) in sets.items():
                for k in map(int, args.sizes.split(",")):
                    if (name, k, seed) in done:
                        continue
                    sample, run = bench.sample(pool, k, seed), Path(scratch) / f"{name}-{k}-{seed}"
                    start = time.perf_counter()
                    result = (select(sample, test, backbone, seed, run, captured) if args.idea == "select"
                              else label_names(sample, test, backbone, seed, run))
                    result.update({"set": name, "k": k, "seed": seed, "setfit": setfit.get((name, k, seed)),
                                   "seconds": time.perf_counter() - start, "load_average": os.getloadavg()})
                    results.append(result)
                    print(json.dumps(result), flush=True)
                    out.write_text(json.dumps(results, indent=1) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
