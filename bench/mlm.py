"""MLM domain adaptation on BBC News: masking statistics, head-only vs full adaptation, downstream topics.

Runs in one process on the same data and model:

1. Masking statistics of tasuki-mlm against the reference, ``transformers``'
   ``DataCollatorForLanguageModeling`` (and whole-word masking's share), on BBC tokens.
2. The packaged MiniLM (no MLM head: one is initialised) adapted on BBC training articles:
   the same step budget spent on the head alone (encoder frozen) vs the whole model;
   held-out perplexity and masked-token accuracy on held-out articles.
3. A 5-topic classifier (the sentiment preset of classify, fine-tuned end to end on articles cut at its
   max_length, scored by macro F1) with the same small labelled budget on the unadapted MiniLM and on the
   adapted directory (same seed, steps, hyper-parameters), scored on held-out articles.

    python bench/mlm.py --quick          # a couple of minutes on 2 CPU cores
    python bench/mlm.py --steps 300      # the reported run
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

import tasuki.api as api
from tasuki.registry import Registry, set_registry
from tasuki_classify import plugin as classify_plugin
from tasuki_classify.encoding import TruncationWarning
from tasuki_mlm import plugin as mlm_plugin
from tasuki_mlm.adapt import adapt
from tasuki_mlm.corpus import Document, bbc_news, split_documents
from tasuki_mlm.masking import IGNORE_INDEX
from tasuki_sentiment import plugin as sentiment_plugin


def masking_statistics(texts: list[str], tokenizer: Any, tokens: int) -> list[tuple[str, float, float]]:
    """Shares of chosen / [MASK] / random / unchanged tokens: tasuki's collate vs HF's collator."""
    from transformers import DataCollatorForLanguageModeling

    from tasuki_mlm.task import MaskedLMTask

    task = MaskedLMTask()
    from datasets import Dataset

    features = Dataset.from_list([{"text": t} for t in texts]).map(
        task.encode, batched=True, fn_kwargs={"tokenizer": tokenizer, "max_length": 128}, remove_columns=["text"]
    )
    features = features.select(range(min(len(features), tokens // 128 + 1)))
    rows = [dict(f) for f in features]
    torch.manual_seed(0)
    ours = task.collate(rows, tokenizer)
    reference = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=0)(
        [{"input_ids": r["input_ids"]} for r in rows]
    )
    length = max(len(r["input_ids"]) for r in rows)  # a block ending on a document boundary is one shorter
    original = torch.tensor([r["input_ids"] + [tokenizer.pad_token_id] * (length - len(r["input_ids"])) for r in rows])

    def shares(batch: dict[str, torch.Tensor]) -> tuple[float, float, float, float, float]:
        special = torch.isin(original, torch.tensor(tokenizer.all_special_ids))
        chosen = batch["labels"] != IGNORE_INDEX
        n = chosen.sum().item()
        masked = (batch["input_ids"] == tokenizer.mask_token_id) & chosen
        same = (batch["input_ids"] == original) & chosen
        rand = chosen & ~masked & ~same
        return (n / (~special).sum().item(), masked.sum().item() / n, rand.sum().item() / n, same.sum().item() / n,
                float((chosen & special).sum().item()))

    a, b = shares(ours), shares(reference)
    names = ["chosen / non-special", "[MASK] / chosen", "random / chosen", "unchanged / chosen", "special chosen"]
    return [(name, x, y) for name, x, y in zip(names, a, b)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small budget: a couple of minutes on 2 CPU cores")
    parser.add_argument("--steps", type=int, default=300, help="MLM optimizer steps (each run)")
    parser.add_argument("--classifier-steps", type=int, default=150)
    parser.add_argument("--labelled", type=int, default=250, help="labelled training articles for the classifier")
    parser.add_argument("--held-out", type=float, default=0.1)
    parser.add_argument("--whole-word", action="store_true")
    parser.add_argument("--classifier-max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (1 on a busy machine)")
    parser.add_argument("--output", default=None, help="where the adapted backbone goes (default: a temp dir)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.classifier_steps, args.labelled = 30, 30, 100
        args.held_out, args.classifier_max_length = 0.05, 128
    if args.threads:
        torch.set_num_threads(args.threads)
    # the topic classifier is the sentiment preset of classify: single-label classification, labels from the data
    plugins = [("mlm", mlm_plugin), ("classify", classify_plugin), ("sentiment", sentiment_plugin)]
    set_registry(Registry(plugins=plugins, entry_points=False))
    warnings.filterwarnings("ignore", category=TruncationWarning)  # articles are cut to the classifier's length
    work = Path(args.output or tempfile.mkdtemp(prefix="tasuki-bench-mlm-"))

    articles = bbc_news()
    documents = [Document(text, topic) for text, topic in articles]
    train_docs, held_docs = split_documents(documents, args.held_out, seed=0)
    # adapt() splits the same list with the same seed and share: the same held-out articles.
    print(f"BBC News: {len(articles)} articles; {len(train_docs)} for adaptation, {len(held_docs)} held out")

    from tasuki.registry import resolve_backbone

    tokenizer = resolve_backbone("minilm").tokenizer
    print("\n== masking statistics on ~100k BBC tokens (max_length 128) ==")
    print(f"{'share':<24}{'tasuki':>10}{'HF collator':>13}{'ratio':>8}")
    for name, ours, ref in masking_statistics([d.text for d in train_docs[:800]], tokenizer, 100_000):
        ratio = ours / ref if ref else float("nan")
        print(f"{name:<24}{ours:>10.4f}{ref:>13.4f}{ratio:>8.3f}")

    print(f"\n== MiniLM adapted on BBC: {args.steps} steps each, batch 16, max_length 128 ==")
    started = time.perf_counter()
    result = adapt(
        [d.text for d in documents], output_dir=work / "adapted", backbone="minilm",
        max_steps=args.steps, held_out=args.held_out, seed=0, whole_word=args.whole_word, learning_rate=1e-4,
        progress=False, save_steps=0,
    )
    print(f"(both runs: {time.perf_counter() - started:.0f}s; head initialised: {result.head_initialized})")
    print(f"{'held-out':<18}{result.baseline_name:>12}{'adapted':>12}{'ratio':>8}")
    for name in ("perplexity", "masked_accuracy", "loss"):
        a, b = result.baseline[name], result.adapted[name]
        print(f"{name:<18}{a:>12.4f}{b:>12.4f}{b / a:>8.3f}")

    rng = random.Random(0)
    labelled = rng.sample(train_docs, min(args.labelled, len(train_docs)))
    train_rows = [{"text": d.text, "label": d.source} for d in labelled]
    test_rows = [{"text": d.text, "label": d.source} for d in held_docs]
    print(f"\n== topic classifier: {len(train_rows)} labelled articles, {args.classifier_steps} steps, "
          f"{len(test_rows)} held-out articles ==")
    scores = {}
    started = time.perf_counter()
    for name, backbone in (("minilm", "minilm"), ("adapted", str(work / "adapted"))):
        trained = api.train("sentiment", train_rows, eval_data=test_rows, backbone=backbone,
                            output_dir=work / f"topic-{name}", max_steps=args.classifier_steps, batch_size=16,
                            max_length=args.classifier_max_length,
                            learning_rate=5e-5, seed=0, progress=False, save_steps=0,
                            # as measured before sentiment became classify's preset: end to end (not the few-shot
                            # recipe a hundred articles would choose), each article cut at max_length (no windows)
                            task_options={"recipe": "standard", "windows": False})
        scores[name] = trained.metrics
    print(f"(both classifiers: {time.perf_counter() - started:.0f}s)")
    print(f"{'held-out':<12}{'minilm':>10}{'adapted':>10}{'ratio':>8}")
    for metric in ("accuracy", "f1_macro"):
        a, b = scores["minilm"][metric], scores["adapted"][metric]
        print(f"{metric:<12}{a:>10.4f}{b:>10.4f}{b / a:>8.3f}")
    print(f"\nadapted backbone: {work / 'adapted'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
