"""QA inference: ``tasuki.load(dir).predict`` vs the ``question-answering`` pipeline's decoding.

transformers 5 removed ``pipeline("question-answering")``; the reference is that pipeline
rebuilt on the pieces v5 still ships (``select_starts_ends``, overflow windows, word
alignment): ``plugins/qa/tests/hf_reference.py``. Both run in this process on the same model
and the same question/context pairs, a third of them with contexts longer than one window.

    python bench/qa.py [--quick] [--model DIR] [--pairs 500] [--threads 2]

Without ``--model`` it uses the packaged MiniLM under a freshly initialised (seeded) QA head:
throughput and agreement do not depend on training.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "qa" / "tests"))


def make_pairs(n: int) -> list[dict[str, str]]:
    """``n`` (question, context) pairs from the packaged English set; every third one's context is long."""
    from tasuki_qa.squad import packaged_data, read_squad_json

    rows = []
    for split in ("train", "test"):
        path = packaged_data("en", split)
        rows += read_squad_json(path, path.read_text(encoding="utf-8"))
    contexts = sorted({r["context"] for r in rows})
    pairs = []
    for i in range(n):
        row = rows[i % len(rows)]
        context = row["context"]
        if i % 3 == 2:  # pad with two other articles: well past one 384-token window
            others = [c for c in contexts if c != context]
            context = others[i % len(others)] + "\n" + context + "\n" + others[(i * 7 + 3) % len(others)]
        pairs.append({"question": row["question"], "context": context})
    return pairs


def random_head_model(directory: Path) -> Path:
    """The packaged MiniLM under a seeded, untrained QA head, saved as a tasuki model directory."""
    import torch

    from tasuki.registry import resolve_backbone
    from tasuki.saving import save_trained
    from tasuki_qa.task import QATask

    torch.manual_seed(0)
    backbone = resolve_backbone("minilm")
    task = QATask()
    model = task.build_model(backbone)
    save_trained(directory, task=task, model=model, tokenizer=backbone.tokenizer, backbone=backbone.describe(),
                 plugin={}, args={"max_length": 384}, metrics={}, data={})
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 pairs instead of --pairs")
    parser.add_argument("--model", type=Path, help="a tasuki qa model directory (default: MiniLM, random head)")
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per contender, interleaved: median with min-max (1 with --quick)")
    args = parser.parse_args()

    import torch
    from hf_reference import reference_answer

    import tasuki
    from tasuki.registry import Registry, set_registry
    from tasuki_qa import plugin

    torch.set_num_threads(args.threads)
    set_registry(Registry([("qa", plugin)], entry_points=False))
    directory = args.model or random_head_model(Path(tempfile.mkdtemp()) / "qa-minilm")
    model = tasuki.load(directory, device="cpu")
    max_length = model.max_length
    stride = int(model.task.option("doc_stride"))
    max_answer = int(model.task.option("max_answer_length"))
    impossible = bool(model.task.option("allow_impossible"))
    pairs = make_pairs(100 if args.quick else args.pairs)
    windows = sum(len(f) for f in [model.task.encode({k: [p[k] for p in pairs] for k in pairs[0]},
                                                    model.tokenizer, max_length)["input_ids"]])

    def ours(items: list[dict] = pairs) -> list[dict]:
        return model.predict(items, batch_size=args.batch_size)

    def reference(items: list[dict] = pairs) -> list[dict]:  # as the pipeline: one example's windows per forward
        return [reference_answer(model.model, model.tokenizer, p["question"], p["context"], max_seq_len=max_length,
                                 doc_stride=stride, max_answer_len=max_answer, handle_impossible_answer=impossible)
                for p in items]

    ours(pairs[:12]), reference(pairs[:12])  # warm-up, untimed
    sys.path.insert(0, str(ROOT))
    from bench.harness import timed_runs

    # the harness's one statistic: median over interleaved repeats, with min-max (warm-up above, untimed)
    seconds, results = timed_runs({"tasuki": ours, "reference": reference}, 1 if args.quick else args.repeats,
                                  warmup=0)
    t_ours, t_ref = seconds["tasuki"].median, seconds["reference"].median
    same = sum((a["answer"], a["start"], a["end"]) == (b["answer"], b["start"], b["end"])
               for a, b in zip(results["tasuki"], results["reference"]))
    n = len(pairs)
    print(f"qa inference: {n} pairs ({sum(i % 3 == 2 for i in range(n))} long), {windows} windows of "
          f"max_length {max_length}, stride {stride}, torch threads {args.threads}, model {directory}")
    print(f"{'measure':<28}  {'tasuki':>10}  {'reference':>10}  {'ratio':>6}")
    print(f"{'pairs/s':<28}  {n / t_ours:>10.2f}  {n / t_ref:>10.2f}  {t_ref / t_ours:>6.2f}")
    print(f"pairs/s median (min-max): tasuki {seconds['tasuki'].rate(n).text('.2f')}, "
          f"reference {seconds['reference'].rate(n).text('.2f')}")
    print(f"identical answers: {same}/{n} = {100 * same / n:.1f}% (answer text and character offsets)")


if __name__ == "__main__":
    main()
