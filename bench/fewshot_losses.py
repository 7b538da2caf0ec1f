"""The few-shot recipe's contrastive loss: SetFit's cosine-similarity pairs against SupCon, all else equal.

Both tune the same body on the same sample for the same forward passes (one epoch of 16-pair batches over
SetFit-style pairs, 8 a side a text at most; or each text drawn 16 times in batches of 16, two dropout views
each, SupCon at temperature 0.1), at learning rate 2e-5 with 10 % warm-up, then average the tuned weights half
and half with the pretrained ones and fit the recipe's head (``tasuki_classify.head``) on the training texts.
Written outside the runner so the two differ in the loss alone; ``pairs`` is the recipe before stop 38
(``build_pairs`` below is its pair construction). Samples and test sets are ``bench/fewshot.py``'s; SetFit's
accuracy on each sample is read from ``bench/fewshot.json`` (its 5-seed run).

    python bench/fewshot_losses.py --sets tweets,ja --sizes 8,16 --seeds 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.fewshot import MAX_LENGTH, data_set, sample

BATCH, PER_SIDE, PASSES, TEMPERATURE = 16, 8, 16, 0.1


def build_pairs(labels: list[str], seed: int) -> list[tuple[int, int, float]]:
    """SetFit-style pairs (the recipe before stop 38): each side (same label 1.0, other label 0.0) as many pairs
    as the larger side has, at most PER_SIDE a text, in a seeded order, sides alternating."""
    n = len(labels)
    positive = [(i, j) for i in range(n) for j in range(i + 1, n) if labels[i] == labels[j]]
    negative = [(i, j) for i in range(n) for j in range(i + 1, n) if labels[i] != labels[j]]
    per_side = min(max(len(positive), len(negative)), PER_SIDE * n)
    shuffler, sides = random.Random(seed), []
    for side, score in ((positive, 1.0), (negative, 0.0)):
        shuffler.shuffle(side)
        sides.append([(*side[k % len(side)], score) for k in range(per_side)] if side else [])
    return [side[k] for k in range(per_side) for side in sides if side]


def tune(kind: str, backbone, texts: list[str], labels: list[str], seed: int):
    """The backbone's encoder tuned with ``kind`` (``pairs`` or ``supcon``), averaged with its initial weights."""
    import torch
    import torch.nn.functional as F

    from tasuki.plugin import supervised_contrastive_loss

    torch.manual_seed(seed)
    encoder, tokenizer = backbone.encoder(), backbone.tokenizer
    initial = {k: v.clone() for k, v in encoder.state_dict().items()}

    def vectors(batch_texts: list[str]) -> torch.Tensor:
        batch = tokenizer(batch_texts, truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="pt")
        tokens = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    pairs = build_pairs(labels, seed)
    order = [i for _ in range(PASSES) for i in random.Random(seed + _).sample(range(len(texts)), len(texts))]
    steps = math.ceil(len(pairs) / BATCH) if kind == "pairs" else math.ceil(len(order) / BATCH)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=2e-5, weight_decay=0.01)
    warm = math.ceil(0.1 * steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm)))
    names = sorted(set(labels))
    encoder.train()
    for step in range(steps):
        if kind == "pairs":
            chunk = pairs[BATCH * step:BATCH * (step + 1)]
            a, b = vectors([texts[i] for i, _, _ in chunk]), vectors([texts[j] for _, j, _ in chunk])
            loss = F.mse_loss(F.cosine_similarity(a, b), torch.tensor([s for _, _, s in chunk]))
        else:
            drawn = order[BATCH * step:BATCH * (step + 1)]
            y = torch.tensor([names.index(labels[i]) for i in drawn] * 2)
            loss = supervised_contrastive_loss(vectors([texts[i] for i in drawn] * 2), y[:, None] == y[None, :],
                                               TEMPERATURE)
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    tuned = encoder.state_dict()
    encoder.load_state_dict({k: 0.5 * initial[k] + 0.5 * v if v.is_floating_point() else v for k, v in tuned.items()})
    return encoder.eval()


def accuracy(encoder, tokenizer, train: list[tuple[str, str]], test: list[tuple[str, str]]) -> float:
    """The recipe's head fitted on the training texts' vectors, scored on the test texts."""
    from tasuki.plugin import SentenceEncoder
    from tasuki_classify import head

    sentence = SentenceEncoder(encoder, pooling="mean", normalize=True)
    names = sorted({label for _, label in train})
    fitted = head.logistic_head(head.embed(sentence, tokenizer, [t for t, _ in train], MAX_LENGTH),
                                [[label] for _, label in train], names, False)
    scores = head.embed(sentence, tokenizer, [t for t, _ in test], MAX_LENGTH) @ fitted.weight.T + fitted.bias
    return sum(names[p] == label for p, (_, label) in zip(scores.argmax(1), test)) / len(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="tweets,ja")
    parser.add_argument("--sizes", default="8,16")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default="bench/fewshot_losses.json")
    args = parser.parse_args()
    from tasuki.plugin import resolve_backbone

    setfit = {(r["set"], r["k"], r["seed"]): r["setfit"]["accuracy"]
              for r in json.loads(Path("bench/fewshot.json").read_text())["results"] if "setfit" in r}
    results = []
    for seed in range(args.seeds):
        for name in args.sets.split(","):
            pool, test, backbone_name = data_set(name, 1000 if name != "bbc" else 500)
            backbone = resolve_backbone(backbone_name)
            for k in map(int, args.sizes.split(",")):
                train = sample(pool, k, seed)
                result = {"set": name, "k": k, "seed": seed, "setfit": setfit.get((name, k, seed))}
                for kind in ("pairs", "supcon"):
                    start = time.perf_counter()
                    encoder = tune(kind, backbone, [t for t, _ in train], [label for _, label in train], seed)
                    result[kind] = accuracy(encoder, backbone.tokenizer, train, test)
                    result[f"{kind}_seconds"] = time.perf_counter() - start
                print(json.dumps(result), flush=True)
                results.append(result)
                Path(args.out).write_text(json.dumps({"results": results}, indent=1) + "\n")
    for name in args.sets.split(","):
        for k in map(int, args.sizes.split(",")):
            cell = [r for r in results if r["set"] == name and r["k"] == k]
            means = {c: statistics.mean(r[c] for r in cell) for c in ("pairs", "supcon")}
            print(f"{name} {k}: pairs {means['pairs']:.3f}, supcon {means['supcon']:.3f} "
                  f"({100 * (means['supcon'] - means['pairs']):+.1f} points, {len(cell)} seeds)")


if __name__ == "__main__":
    main()
