"""Cost against data size: reading + tokenizing + planning batches, and streaming prediction.

Synthetic short texts (a review-like sentence of 6-20 words from a 60-word vocabulary, a
label) at 20k, 200k and 2M rows (``--quick``: 2k and 20k), written as CSV. Each measurement
runs in a fresh Python process, so its peak memory (``resource.getrusage``, ``ru_maxrss``)
is that size's alone:

- prepare, first run: ``tasuki.data.load_data`` (read the CSV), ``tasuki.features.encode``
  (the sentiment task on a tiny WordPiece tokenizer, feature cache on, empty cache), and one
  pass over the training batch plan (``make_loader``'s length-grouped sampler);
- prepare, second run: the same in a new process with the cache the first run wrote;
- predict: ``TrainedModel.predict_file`` on the same CSV into JSONL with a tiny sentiment
  model (2 layers, hidden 32), chunks of 1,000 rows.

Goals (issue 17): memory at 200k <= 1.5x memory at 20k; time <= 12x for 10x the rows; the
cached run >= 5x faster than the first; prediction memory flat up to 2M rows.

``python -m bench.scale [--quick] [--sizes N ...]`` also writes ``bench/scale.png`` and the
"Scale" section of ``bench/RESULTS.md``; ``python -m bench --only scale`` gives the rows.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import Row, machine

HERE = Path(__file__).resolve().parent
WORDS = ("the a this that movie film food service place day people time staff room price story music actor "
         "was is were really very quite not so too good great nice fine lovely bad awful terrible boring slow "
         "fast cheap expensive friendly rude clean dirty loud quiet and but or with without again never always "
         "i we you they love hate like enjoyed disliked recommend avoid will would").split()
SECTION = "<!-- scale section: written by python -m bench.scale -->"


def write_data(path: Path, rows: int, seed: int = 0) -> Path:
    """A CSV of ``rows`` short texts with pos/neg labels (``text,label``)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(rows):
            writer.writerow([" ".join(rng.choices(WORDS, k=rng.randint(6, 20))), rng.choice(("pos", "neg"))])
    return path


def tiny_model(directory: Path) -> Path:
    """A tiny sentiment model (a few steps of training on a tiny BERT): fast enough for millions of rows."""
    import tasuki
    from tasuki.testing import tiny_bert

    backbone = tiny_bert(directory / "backbone", words=WORDS)
    rng = random.Random(1)
    rows = [{"text": " ".join(rng.choices(WORDS, k=8)), "label": rng.choice(("pos", "neg"))} for _ in range(64)]
    tasuki.train("sentiment", rows, backbone=str(backbone), output_dir=directory / "model", max_steps=2,
                 batch_size=16, eval_split=0, checkpoints=False, progress=False)
    return directory / "model"


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_prepare(data: Path, backbone: Path, reader: str = "load_data") -> dict[str, Any]:
    """In this process: read, tokenize (cached), plan one epoch of batches; seconds and peak MB.

    :param reader: ``load_data`` (``tasuki.data``: the rows in memory, what training reads today) or
        ``stream`` (``tasuki.data.read_dataset``: an Arrow file written row by row, cached).
    """
    import datasets  # noqa: F401 - imported before the clock starts: its import is no part of the data's cost
    from transformers import AutoTokenizer

    from tasuki.api import make_task
    from tasuki.data import load_data
    from tasuki.features import encode, make_loader
    from tasuki.registry import get_registry

    tokenizer = AutoTokenizer.from_pretrained(backbone)
    task = make_task("sentiment", labels=["neg", "pos"])
    baseline = _peak_mb()
    started = time.perf_counter()
    task_cls = get_registry().task("sentiment")
    if reader == "stream":
        from tasuki.data import map_columns, read_dataset

        examples = map_columns(read_dataset(data, task_cls), task_cls, None, str(data), with_targets=True)
    else:
        examples, _ = load_data(data, task_cls)
    read = time.perf_counter()
    features = encode(task, examples, tokenizer, 64, cache=True)
    tokenized = time.perf_counter()
    _, sampler = make_loader(task, features, tokenizer, 32, shuffle=True)
    batches = sum(1 for _ in sampler)
    done = time.perf_counter()
    return {"seconds": done - started, "load_1min": os.getloadavg()[0], "read_s": read - started, "tokenize_s": tokenized - read,
            "plan_s": done - tokenized, "batches": batches, "features": len(features), "peak_mb": _peak_mb(),
            "baseline_mb": baseline}


def measure_predict(data: Path, model_dir: Path, output: Path) -> dict[str, Any]:
    """In this process: stream ``data`` through the model into ``output``; seconds and peak MB."""
    import datasets  # noqa: F401 - imported before the clock starts
    import torch

    import tasuki

    # one thread: a model this small spends more time syncing threads than multiplying (on a busy
    # 2-core machine, 2 threads made prediction 4x slower)
    torch.set_num_threads(1)
    model = tasuki.load(model_dir, device="cpu")
    baseline = _peak_mb()
    started = time.perf_counter()
    rows = model.predict_file(data, output, batch_size=256, chunk_size=1000, progress=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "peak_mb": _peak_mb(),
            "baseline_mb": baseline}


def measure_train(data: Path, backbone: Path, output: Path, streaming: bool, steps: int = 20) -> dict[str, Any]:
    """In this process: ``tasuki.train`` on the CSV for ``steps`` steps, streamed or not; seconds and peak MB.

    Both read, check and fit the whole file; the usual path then tokenizes all of it before its
    first step, the streamed one a shuffle buffer at a time.
    """
    import datasets  # noqa: F401 - imported before the clock starts
    import torch

    import tasuki

    torch.set_num_threads(1)
    baseline = _peak_mb()
    started = time.perf_counter()
    tasuki.train("sentiment", str(data), backbone=str(backbone), output_dir=output, streaming=streaming,
                 max_steps=steps, batch_size=32, max_length=64, eval_split=0, checkpoints=False, progress=False,
                 overwrite=True)
    return {"seconds": time.perf_counter() - started, "steps": steps, "peak_mb": _peak_mb(), "baseline_mb": baseline,
            "load_1min": os.getloadavg()[0]}


def _child(kind: str, timeout: int, env: dict[str, str], **options: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its last output line is the JSON result."""
    args = [sys.executable, "-m", "bench.scale", "--child", kind, *(f"--{k}={v}" for k, v in options.items())]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent, env=env)
    if done.returncode:
        raise RuntimeError(f"{kind} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


KINDS = ("first", "cached", "first_stream", "cached_stream", "predict", "train", "train_streaming")
"""prepare with ``load_data`` (first run, then cached), the same with streamed reading, predict_file,
20 training steps tokenizing everything first (feature cache empty) or streaming."""


def measure(sizes: list[int], workdir: Path, timeout: int = 3600, log: Any = None,
            kinds: tuple[str, ...] = KINDS, repeats: int = 3) -> dict[int, dict[str, Any]]:
    """Every measurement of ``kinds`` at every size, each in its own process; ``{rows: {kind: result}}``.

    First runs up to 200k rows are repeated ``repeats`` times and the median kept (a shared
    machine's load moves a 3-second run by a second); 2M rows run once.
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "TASUKI_PLUGINS": "sentiment",
           "TASUKI_CACHE": str(workdir / "cache"), "HF_DATASETS_CACHE": str(workdir / "hf-cache"),
           "PYTHONPATH": str(HERE.parent)}
    os.environ.update({k: env[k] for k in ("TASUKI_PLUGINS", "HF_HUB_OFFLINE")})
    model_dir = tiny_model(workdir)
    backbone = workdir / "backbone"
    results: dict[int, dict[str, Any]] = {}
    for rows in sizes:
        data = write_data(workdir / f"data-{rows}.csv", rows)
        results[rows] = {}
        output = workdir / f"out-{rows}.jsonl"
        jobs = {"first": ("prepare", {"data": data, "backbone": backbone}),
                "cached": ("prepare", {"data": data, "backbone": backbone}),  # the cache "first" wrote
                "first_stream": ("prepare", {"data": data, "backbone": backbone, "reader": "stream"}),
                "cached_stream": ("prepare", {"data": data, "backbone": backbone, "reader": "stream"}),
                "predict": ("predict", {"data": data, "model": model_dir, "output": output}),
                "train": ("train", {"data": data, "backbone": backbone, "output": workdir / "trained"}),
                "train_streaming": ("train", {"data": data, "backbone": backbone, "output": workdir / "trained",
                                              "streaming": 1})}
        for kind in kinds:
            child, options = jobs[kind]
            # a first run starts from an empty cache; its repeats (median kept: the machine is shared)
            # each get their own, and the cached run reads the last one's
            runs = []
            for attempt in range(repeats if rows <= 200_000 and kind.startswith(("first", "train")) else 1):
                if kind.startswith(("first", "train")):
                    env["TASUKI_CACHE"] = str(workdir / f"cache-{rows}-{kind}-{attempt}")
                runs.append(_child(child, timeout, env, **options))
            runs.sort(key=lambda r: r["seconds"])
            results[rows][kind] = {**runs[len(runs) // 2], "runs_s": [round(r["seconds"], 2) for r in runs]}
            if log:
                log(f"{rows:>9,} rows {kind:>13}: {results[rows][kind]['seconds']:8.1f}s (runs {results[rows][kind]['runs_s']}) "
                    f"{results[rows][kind]['peak_mb']:7.0f} MB peak")
        output.unlink(missing_ok=True)
        data.unlink()
    return results


def rows_of(results: dict[int, dict[str, Any]], quick: bool) -> list[Row]:
    """Harness rows: growth ratios between consecutive sizes, the cache speed-up, prediction memory."""
    out: list[Row] = []
    sizes = sorted(results)
    note = "fresh process per size; bench/scale.py" + (" --quick" if quick else "")
    for pair, (small, large) in enumerate(itertools.pairwise(sizes)):
        memory_goal = 1.5 if pair == 0 else None  # the goal: 200k vs 20k; past it, a figure
        a, b = results[small]["first"], results[large]["first"]
        label = f"{large:,} vs {small:,} rows"
        out.append(Row("scale", f"prepare peak memory, {label}", b["peak_mb"], a["peak_mb"], "MB", "lower",
                       f"the same at {small:,} rows", goal=memory_goal, note=note))
        out.append(Row("scale", f"prepare time (read+tokenize+plan), {label}", b["seconds"], a["seconds"], "s",
                       "lower", f"the same at {small:,} rows", goal=1.2 * large / small, note=note))
        p, q = results[small]["predict"], results[large]["predict"]
        out.append(Row("scale", f"predict_file peak memory, {label}", q["peak_mb"], p["peak_mb"], "MB", "lower",
                       f"the same at {small:,} rows", goal=1.5, note=note))
        if "first_stream" in results[small] and "first_stream" in results[large]:
            a, b = results[small]["first_stream"], results[large]["first_stream"]
            out.append(Row("scale", f"prepare peak memory, streamed reading, {label}", b["peak_mb"], a["peak_mb"],
                           "MB", "lower", f"the same at {small:,} rows", goal=memory_goal, note=note))
    for size in sizes:
        for suffix, how in (("", ""), ("_stream", ", streamed reading")):
            if f"first{suffix}" not in results[size]:
                continue
            first, cached = results[size][f"first{suffix}"], results[size][f"cached{suffix}"]
            out.append(Row("scale", f"prepare time, cached vs first run{how}, {size:,} rows", cached["seconds"],
                           first["seconds"], "s", "lower", "first run (empty cache)", goal=0.2,
                           note=f"read {cached['read_s']:.1f}s of {cached['seconds']:.1f}s cached; {note}"))
    for small, large in itertools.pairwise(sizes):
        for kind, how in (("train", "tokenizing all first"), ("train_streaming", "streaming")):
            if kind in results[small] and kind in results[large]:
                a, b = results[small][kind], results[large][kind]
                out.append(Row("scale", f"20 training steps ({how}) peak memory, {large:,} vs {small:,} rows",
                               b["peak_mb"], a["peak_mb"], "MB", "lower", f"the same at {small:,} rows", goal=1.5,
                               note=note))
    for size in sizes:
        if "train" in results[size] and "train_streaming" in results[size]:
            usual, streamed = results[size]["train"], results[size]["train_streaming"]
            out.append(Row("scale", f"20 training steps, streaming vs tokenizing all first, {size:,} rows",
                           streamed["seconds"], usual["seconds"], "s", "lower", "tokenizing all first", note=note))
    largest = results[sizes[-1]]["predict"]
    out.append(Row("scale", f"predict_file rows/s, {sizes[-1]:,} rows", largest["rows_per_s"], None, "rows/s",
                   "higher", note=f"tiny model (2 layers, hidden 32, 1 thread), chunks of 1,000, batch 256; {note}"))
    return out


def plot(results: dict[int, dict[str, Any]], path: Path) -> Path:
    """Log-log: peak memory and seconds against rows, for the first, cached and predict runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    fig, (mem, sec) = plt.subplots(1, 2, figsize=(10, 4))
    for kind, label in (("first", "prepare (first run)"), ("cached", "prepare (cached)"),
                        ("first_stream", "prepare, streamed reading (first)"),
                        ("cached_stream", "prepare, streamed reading (cached)"),
                        ("predict", "predict_file (streaming)")):
        if not all(kind in results[s] for s in sizes):
            continue
        mem.plot(sizes, [results[s][kind]["peak_mb"] for s in sizes], marker="o", label=label)
        sec.plot(sizes, [results[s][kind]["seconds"] for s in sizes], marker="o", label=label)
    linear = [results[sizes[0]]["first"]["seconds"] * s / sizes[0] for s in sizes]
    sec.plot(sizes, linear, linestyle=":", color="grey", label="linear from the smallest")
    for ax, title, unit in ((mem, "peak memory (ru_maxrss)", "MB"), (sec, "time", "seconds")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    sec.legend(fontsize=8)
    fig.suptitle("tasuki: cost against data size (short texts, 2 CPU cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def section(results: dict[int, dict[str, Any]], info: dict[str, Any], command: str) -> str:
    """The Markdown section of ``bench/RESULTS.md``: the per-size table, the goals, the plot."""
    from bench.harness import table

    sizes = sorted(results)
    lines = [SECTION, "## Scale: cost against data size (`bench/scale.py`)", "",
             f"Command: `{command}`; {info['cpu']}, {info['cores']} cores, load average before "
             f"{info['load_average']}, {info['date']}. Each number is a run in a fresh process; first runs up to "
             f"200k rows are the median of 3. The 2-core machine was shared with other jobs: the last column is "
             f"the 1-minute load average at the end of the first run.", "",
             "| rows | reader | prepare first: s (read / tokenize / plan) | peak MB | cached: s | peak MB | speed-up "
             "| predict_file: s | rows/s | peak MB | load |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in sizes:
        p = results[s]["predict"]
        for suffix, reader in (("", "`tasuki.data.load_data`"), ("_stream", "`tasuki.data.read_dataset`")):
            if f"first{suffix}" not in results[s]:
                continue
            f, c = results[s][f"first{suffix}"], results[s][f"cached{suffix}"]
            load = f"{f['load_1min']:.1f}" if "load_1min" in f else "-"
            predicted = (f"{p['seconds']:.1f} | {p['rows_per_s']:,.0f} | {p['peak_mb']:.0f}" if not suffix
                         else "〃 | 〃 | 〃")
            lines.append(f"| {s:,} | {reader} | {f['seconds']:.1f} ({f['read_s']:.1f} / {f['tokenize_s']:.1f} / "
                         f"{f['plan_s']:.1f}) | {f['peak_mb']:.0f} | {c['seconds']:.1f} | {c['peak_mb']:.0f} | "
                         f"{f['seconds'] / c['seconds']:.1f}x | {predicted} | {load} |")
    lines += ["", f"Baseline of a process with tasuki, torch and transformers imported: "
              f"{results[sizes[0]]['first']['baseline_mb']:.0f} MB. Tokenizing writes Arrow files in map batches "
              "of 1,000 and batch planning works on one length array, so what grows with the rows under "
              "`load_data` is its reading: `tasuki.data` holds every row as a Python dict before building the "
              "dataset. `tasuki.data.read_dataset` streams the file into a cached Arrow file instead (the "
              "rest of its growth at 2M is memory-mapped Arrow pages and the 2M-entry index and length arrays). "
              "`predict_file` reads, predicts and writes 1,000 rows at a time: flat.", ""]
    if all("train_streaming" in results[s] for s in sizes):
        lines += ["20 training steps (`tasuki.train`, tiny BERT, batch 32, one thread), in seconds and peak MB, "
                  "tokenizing all first vs streaming (`--streaming`: read into the Arrow data cache, checked a "
                  "column chunk at a time, tokenized a shuffle buffer at a time; the label set is still read as one "
                  "column): " + "; ".join(
                      f"{s:,} rows {results[s]['train']['seconds']:.1f} s / {results[s]['train']['peak_mb']:.0f} MB "
                      f"vs {results[s]['train_streaming']['seconds']:.1f} s / "
                      f"{results[s]['train_streaming']['peak_mb']:.0f} MB" for s in sizes) + ".", ""]
    lines += [table(rows_of(results, quick=sizes[-1] < 200_000)), "", "![scale](scale.png)", ""]
    return "\n".join(lines)


def write_section(text: str, path: Path) -> None:
    """Append (or replace) the scale section at the end of RESULTS.md, after everything else.

    Kept after the closing note, so a full ``python -m bench`` run (which rewrites the table and
    keeps everything from the closing note on) keeps it too.
    """
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if SECTION in old:
        old = old[: old.index(SECTION)].rstrip("\n") + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(old + ("\n" if old else "") + text, encoding="utf-8")
    os.replace(tmp, path)


def run(quick: bool = False, sizes: list[int] | None = None) -> list[Row]:
    """The harness entry: measure, return rows (the plot and section come from ``main``)."""
    sizes = sizes or ([2_000, 20_000] if quick else [20_000, 200_000, 2_000_000])
    with tempfile.TemporaryDirectory(prefix="tasuki-bench-scale-") as tmp:
        results = measure(sizes, Path(tmp), log=lambda m: print(f"[scale] {m}", file=sys.stderr, flush=True))
    return rows_of(results, quick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and the plot alone")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="measure only these")
    parser.add_argument("--merge", action="store_true",
                        help="add to the results in bench/scale.json (same sizes) instead of replacing them")
    parser.add_argument("--child", choices=["prepare", "predict", "train"], help=argparse.SUPPRESS)
    parser.add_argument("--streaming", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--reader", default="load_data", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--backbone", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child == "prepare":
        print(json.dumps(measure_prepare(options.data, options.backbone, options.reader)))
        return 0
    if options.child == "train":
        print(json.dumps(measure_train(options.data, options.backbone, options.output, bool(options.streaming))))
        return 0
    if options.child == "predict":
        print(json.dumps(measure_predict(options.data, options.model, options.output)))
        return 0
    import warnings

    warnings.filterwarnings("ignore")
    sizes = options.sizes or ([2_000, 20_000] if options.quick else [20_000, 200_000, 2_000_000])
    info = machine()
    command = "python -m bench.scale " + " ".join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="tasuki-bench-scale-") as tmp:
        results = measure(sizes, Path(tmp), log=lambda m: print(f"[scale] {m}", file=sys.stderr, flush=True),
                          kinds=tuple(options.kinds))
    raw = HERE / "scale.json"
    if options.merge and raw.is_file():
        earlier = json.loads(raw.read_text(encoding="utf-8"))
        for size, kinds in earlier["results"].items():
            results.setdefault(int(size), {}).update({k: v for k, v in kinds.items() if k not in results[int(size)]})
        command += f" (merged into the run of {earlier['machine']['date']}: {earlier.get('command', 'python -m bench.scale')})"
    text = section(results, info, command.strip())
    print(text)
    if not options.no_write:
        plot(results, HERE / "scale.png")
        write_section(text, HERE / "RESULTS.md")
        raw.write_text(json.dumps({"machine": info, "command": command, "results": {
            str(k): v for k, v in sorted(results.items())}}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
