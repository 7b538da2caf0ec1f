"""``python -m bench [--quick] [--only NAME ...]``: every benchmark, one table of tasuki ÷ reference ratios.

Benchmarks of this package run in this process (tasuki and its reference side by side);
the per-plugin scripts (``bench/sentiment.py``, ``bench/ner.py``, ``bench/qa.py``,
``bench/embedding.py``, ``bench/attention.py``) are imported where they expose a function,
else run as subprocesses and their printed results parsed. A full run writes
``bench/results.json`` and ``bench/RESULTS.md``; partial and ``--quick`` runs write to
``out/bench/`` (or ``--out DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.harness import Row, machine, table, write_results

HERE = Path(__file__).resolve().parent


def _training(quick: bool, options: argparse.Namespace) -> list[Row]:
    from bench import training

    return training.run(quick=quick, compile_model=options.compile)


def _tokenization(quick: bool, options: argparse.Namespace) -> list[Row]:
    from bench import tokenization

    return tokenization.run(quick=quick)


def _cli_startup(quick: bool, options: argparse.Namespace) -> list[Row]:
    """bench/cli_startup.py: wall time of tasuki --help / plugins / tasks in fresh interpreters."""
    from bench import cli_startup

    return cli_startup.run(quick=quick)


def _roofline(quick: bool, options: argparse.Namespace) -> list[Row]:
    from bench import roofline

    return roofline.run(quick=quick)


def _sentiment(quick: bool, options: argparse.Namespace) -> list[Row]:
    """bench/sentiment.py exposes ``quick_model`` and ``throughput``: call them in this process."""
    from bench import sentiment

    n = 200 if quick else 2000
    with tempfile.TemporaryDirectory(prefix="tasuki-bench-sent-") as tmp:
        model_dir = sentiment.quick_model(Path(tmp) / "model")
        speed = sentiment.throughput(model_dir, sentiment.mixed_length_texts(n), 64, repeats=1 if quick else 3)
    return [Row("sentiment", f"predict texts/s ({n} mixed-length, batch 64)", speed["tasuki_texts_per_s"],
                speed["pipeline_texts_per_s"], "texts/s", "higher", "transformers.pipeline(text-classification)",
                note=f"same labels {speed['same_labels']:.1%}; best of repeats (bench/sentiment.py)")]


def _subprocess(args: list[str], timeout: int) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=HERE.parent,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-600:]}")
    return done.stdout


def _ner(quick: bool, options: argparse.Namespace) -> list[Row]:
    """bench/ner.py prints its throughput table: run it and parse the two texts/s lines."""
    if quick:
        with tempfile.TemporaryDirectory(prefix="tasuki-bench-ner-") as tmp:
            out = _subprocess(["bench/ner.py", "throughput", "--quick", "--out", tmp], timeout=1800)
    else:  # 1,000 texts; the English model is trained once into out/bench-ner and reused
        out = _subprocess(["bench/ner.py", "throughput", "--out", "out/bench-ner"], timeout=3600)
    ours = re.search(r"tasuki predict\s+([\d.]+)\s+([\d.]+)", out)
    ref = re.search(r"pipeline \(simple\)\s+([\d.]+)\s+([\d.]+)", out)
    same = re.search(r"identical entities: (.*)", out)
    if not (ours and ref):
        raise RuntimeError(f"could not parse bench/ner.py output: {out[-400:]}")
    size = "quick: 100 texts, best of 1" if quick else "1,000 texts, best of 3"
    return [Row("ner", f"predict texts/s ({size})", float(ours.group(2)), float(ref.group(2)), "texts/s",
                "higher", "transformers.pipeline(token-classification, simple)",
                note=f"identical entities: {same.group(1) if same else '?'} (bench/ner.py)")]


def _qa(quick: bool, options: argparse.Namespace) -> list[Row]:
    """bench/qa.py prints pairs/s of both and the identical-answer share: parse them."""
    out = _subprocess(["bench/qa.py", "--threads", str(options.threads), *(["--quick"] if quick else [])],
                      timeout=3600)
    speed = re.search(r"^pairs/s\s+([\d.]+)\s+([\d.]+)", out, re.M)
    same = re.search(r"identical answers: (\S+)", out)
    shape = re.search(r"qa inference: (\d+ pairs \(\d+ long\), \d+ windows)", out)
    if not speed:
        raise RuntimeError(f"could not parse bench/qa.py output: {out[-400:]}")
    return [Row("qa", f"pairs/s ({shape.group(1) if shape else '?'})", float(speed.group(1)), float(speed.group(2)),
                "pairs/s", "higher", "question-answering pipeline decoding (v4, rebuilt)",
                note=f"identical answers {same.group(1) if same else '?'} (bench/qa.py)")]


def _attention(quick: bool, options: argparse.Namespace) -> list[Row]:
    """bench/attention.py prints per-length times: parse fused vs nn.MHA and F.sdpa."""
    out = _subprocess(["bench/attention.py", "--quick", "--lengths", "128", "--threads", str(options.threads)],
                      timeout=900)
    rows = []
    for m in re.finditer(r"^\s*(\d+)\s+(\S+)\s+([\d.]+)ms\s+([\d.]+)ms\s+([\d.]+)ms\s+([\d.]+)ms", out, re.M):
        seq, mode, fused, _explicit, mha, sdpa = m.groups()
        rows.append(Row("attention", f"{mode} ms, seq {seq}", float(fused), float(mha), "ms", "lower",
                        "nn.MultiheadAttention", note="tasuki MultiHeadAttention (fused); bench/attention.py --quick"))
        # not a peer: the bare kernel on already projected q, k, v; the module also runs the four
        # hidden x hidden projections, about 6x the kernel's FLOPs at seq 128 (hidden 384)
        rows.append(Row("attention", f"{mode} ms, seq {seq} (floor: bare kernel)", float(fused), float(sdpa), "ms",
                        "lower", "F.scaled_dot_product_attention without projections",
                        note="tasuki MultiHeadAttention (fused) incl. q/k/v/out projections vs the kernel alone"))
    if not rows:
        raise RuntimeError(f"could not parse bench/attention.py output: {out[-400:]}")
    return rows


def _table_script(name: str, quick_args: tuple[str, ...] = ("--quick",)) -> Callable[[bool, argparse.Namespace], list[Row]]:
    """A script that prints this harness's own Markdown table (bench/embedding.py): run it, read the rows."""

    def collect(quick: bool, options: argparse.Namespace) -> list[Row]:
        out = _subprocess([f"bench/{name}.py", *(quick_args if quick else [])], timeout=3600)
        rows = []
        for line in out.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
            if len(cells) == 9 and cells[0] not in ("benchmark", "") and not set(cells[0]) <= {"-"}:
                try:
                    a, b = (None if c == "-" else float(c.replace(",", "")) for c in cells[2:4])
                except ValueError:
                    continue
                rows.append(Row(cells[0], cells[1], a, b, cells[4], cells[6].split()[0], cells[8],
                                note=f"from bench/{name}.py" + (" --quick" if quick else "")))
        if not rows:
            raise RuntimeError(f"bench/{name}.py ran but printed no table this harness can read: {out[-300:]}")
        # a script may print its table more than once (as it goes, then in full): keep each row once
        return list({(r.benchmark, r.measure, r.reference_name): r for r in rows}.values())

    return collect


def _serve(quick: bool, options: argparse.Namespace) -> list[Row]:
    """bench/serve.py: tasuki serve vs a naive pipeline-per-request server, each in its own process."""
    from bench import serve

    return serve.run(quick=quick, threads=options.threads)


def _export(quick: bool, options: argparse.Namespace) -> list[Row]:
    """bench/export.py: the pipeline vs tasuki on torch, ONNX fp32 and ONNX int8 (sentiment, embedding)."""
    from bench import export

    return export.run(quick=quick, threads=options.threads)


def _scale(quick: bool, options: argparse.Namespace) -> list[Row]:
    """bench/scale.py: each size in a fresh process (peak memory per size); plot and section via its own main."""
    from bench import scale

    return scale.run(quick=quick)


def _gpu(quick: bool, options: argparse.Namespace) -> list[Row]:
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("no GPU on this machine (run `python -m bench --only gpu` on one)")
    from bench import gpu

    return gpu.run(quick=quick)


BENCHMARKS: dict[str, Callable[[bool, argparse.Namespace], list[Row]]] = {
    "cli_startup": _cli_startup,
    "roofline": _roofline,
    "tokenization": _tokenization,
    "training": _training,
    "sentiment": _sentiment,
    "ner": _ner,
    "attention": _attention,
    "qa": _qa,
    # quick: no fine-tuning (40 of the 125 s a quick run took); the full run measures it
    "embedding": _table_script("embedding", ("--quick", "--skip-finetune")),
    "serve": _serve,
    "export": _export,
    "scale": _scale,
    "gpu": _gpu,
}


def _earlier_results(directory: Path, rerun: list[str]) -> tuple[list[Row], dict[str, str], dict]:
    """Rows and failures of the results in ``directory`` that the benchmarks ``rerun`` do not
    replace, and that run's date and notes."""
    path = directory / "results.json"
    if not path.is_file():
        return [], {}, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    fields = set(Row.__dataclass_fields__)
    rows = [Row(**{k: v for k, v in r.items() if k in fields}) for r in data.get("rows", [])
            if r.get("extra", {}).get("collected_by") not in rerun]
    failures = {k: v for k, v in data.get("failures", {}).items() if k not in rerun}
    return rows, failures, {"date": data.get("machine", {}).get("date"), "notes": data.get("notes", [])}


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, print the table, write the results files."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, numbers not meaningful")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--skip", nargs="+", choices=sorted(BENCHMARKS), default=[], help="leave these out")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads for every comparison")
    parser.add_argument("--compile", action="store_true", help="torch.compile both training contenders")
    parser.add_argument("--merge", action="store_true",
                        help="re-run some benchmarks (--only) into the published table: their rows are replaced, "
                             "the others kept, and the notes say when each part was measured")
    parser.add_argument("--out", type=Path, default=None,
                        help="where results.json and RESULTS.md go (default: bench/ for a full run, so the "
                             "published table is only replaced by another full run; out/bench otherwise)")
    options = parser.parse_args(argv)

    import torch

    torch.set_num_threads(options.threads)
    warnings.filterwarnings("ignore")  # truncation and deprecation chatter would drown the table
    info = machine()
    command = ["python -m bench", *(argv if argv is not None else sys.argv[1:])]
    names = [n for n in (options.only or BENCHMARKS) if n not in options.skip]
    if options.out is None:
        full = not options.quick and set(BENCHMARKS) - {"gpu"} <= set(names)
        options.out = HERE if full or options.merge else HERE.parent / "out" / "bench"
    kept_rows, kept_failures, earlier = _earlier_results(options.out, names) if options.merge else ([], {}, {})
    rows: list[Row] = []
    failures: dict[str, str] = {}
    notes = [f"load average before: {info['load_average']}"]
    if options.merge:
        notes = [f"{', '.join(names)}: re-run on {info['date']} with --merge (load average before: "
                 f"{info['load_average']}); the other rows come from the run of {earlier.get('date', '?')}",
                 *(f"earlier run: {n}" for n in earlier.get("notes", []) if not n.startswith("partial"))]
    for name in names:
        started = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            got = BENCHMARKS[name](options.quick, options)
            for row in got:
                row.extra["collected_by"] = name  # what --merge replaces
            rows.extend(got)
        except Exception as exc:  # one broken benchmark must not lose the others' numbers
            failures[name] = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, (FileNotFoundError, RuntimeError)):
                traceback.print_exc()
        print(f"[bench] {name}: {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
        # Written after every benchmark, so an interrupted run keeps what it measured.
        write_results([*kept_rows, *rows], info, {**kept_failures, **failures}, options.out,
                      [*notes, f"partial: done up to {name}"], command)
    info_after = machine()
    notes.append(f"load average after: {info_after['load_average']}")
    print(table(rows))
    for name, why in failures.items():
        print(f"not collected: {name}: {why}")
    json_path, md_path = write_results([*kept_rows, *rows], info, {**kept_failures, **failures}, options.out, notes,
                                       command)
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
