"""The few-shot recipe's two free settings, measured: how much of the tuned encoder to keep, and the head's C.

The recipe (``tasuki_classify.fewshot``) averages the contrastively tuned encoder with the pretrained one
(``TUNED_WEIGHT``, WiSE-FT) and fits a logistic regression on its vectors, of inverse penalty ``head.C`` over the
vectors' spread (``head.penalty``; before stop 32, ``head.C`` itself).
For each data set, size and seed of ``bench/fewshot.py`` (same samples, same test sets), this trains tasuki's
recipe once, keeps the tuned weights, and then scores every pair of

- tuned share ``w`` in 0, 0.25, 0.5, 0.75, 1 (0: the pretrained encoder, no tuning; 1: the tuned one, SetFit's),
- ``head.C`` in 0.25, 1, 4, 16,

by fitting the head on the training texts' vectors under the encoder ``(1 - w) * pretrained + w * tuned`` and
scoring the test set (texts cut at ``MAX_LENGTH`` tokens, no windows). Only the head and the average change
between cells of the grid, so the whole grid costs one training run a sample.

    python bench/fewshot_grid.py --sets tweets,bbc,ja --sizes 8,16 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import fewshot as bench

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
CS = (0.25, 1.0, 4.0, 16.0)


def capture_tuned_weights() -> dict:
    """Make the contrastive stage hand over copies of its encoder's weights, before and after tuning."""
    from tasuki_classify import contrastive

    captured: dict = {}
    averaged = contrastive.ContrastiveStage.averaged

    def keeping(self, model, weight):  # the stage's own signature
        captured["tuned"] = {k: v.detach().to("cpu", copy=True) for k, v in model.encoder.state_dict().items()}
        captured["initial"] = self.initial
        return averaged(self, model, weight)

    contrastive.ContrastiveStage.averaged = keeping
    return captured


def grid(train: list[tuple[str, str]], test: list[tuple[str, str]], backbone_name: str, captured: dict) -> dict:
    """Test accuracy for every ``w{share}_C{c}``, from the weights ``captured`` by the last training run."""
    import numpy as np

    from tasuki.plugin import SentenceEncoder, resolve_backbone
    from tasuki_classify import head

    backbone = resolve_backbone(backbone_name)
    labels = sorted({label for _, label in train})
    rows = [[label] for _, label in train]
    gold = np.array([labels.index(label) for _, label in test])
    scores, default_c = {}, head.C
    for share in SHARES:
        encoder = backbone.encoder()
        encoder.load_state_dict({k: (1 - share) * captured["initial"][k] + share * v if v.is_floating_point() else v
                                 for k, v in captured["tuned"].items()})
        sentence = SentenceEncoder(encoder, pooling="mean", normalize=True, max_seq_length=bench.MAX_LENGTH)
        fit = head.embed(sentence, backbone.tokenizer, [t for t, _ in train], bench.MAX_LENGTH)
        scored = head.embed(sentence, backbone.tokenizer, [t for t, _ in test], bench.MAX_LENGTH)
        for c in CS:
            head.C = c
            weight, bias, _ = head.logistic_head(fit, rows, labels, False)
            scores[f"w{share}_C{c}"] = float(((scored @ weight.T + bias).argmax(1) == gold).mean())
        head.C = default_c
    return scores


def report(results: list[dict]) -> str:
    sets = list(dict.fromkeys(r["set"] for r in results))
    lines = ["| tuned share w | C | " + " | ".join(f"{s} ({sum(r['set'] == s for r in results)} samples)" for s in sets)
             + " | mean of the sets |", "|---|---|" + "---|" * (len(sets) + 1)]
    for share in SHARES:
        for c in CS:
            key = f"w{share}_C{c}"
            per = [statistics.mean(r["grid"][key] for r in results if r["set"] == s) for s in sets]
            lines.append(f"| {share:g} | {c:g} | " + " | ".join(f"{p:.3f}" for p in per) + f" | {statistics.mean(per):.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="tweets,bbc,ja")
    parser.add_argument("--sizes", default="8,16")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--out", default="bench/fewshot_grid.json")
    args = parser.parse_args()
    captured = capture_tuned_weights()
    sets = {name: bench.data_set(name, args.test) for name in args.sets.split(",")}
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            for name, (pool, test, backbone) in sets.items():
                for k in map(int, args.sizes.split(",")):
                    train = bench.sample(pool, k, seed)
                    bench.run_tasuki(train, test, backbone, seed, Path(scratch) / f"{name}-{k}-{seed}", recipe="few-shot")
                    results.append({"set": name, "k": k, "seed": seed, "grid": grid(train, test, backbone, captured)})
                    print(json.dumps(results[-1]), flush=True)
                    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
