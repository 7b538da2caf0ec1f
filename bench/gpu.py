"""GPU: BERT-base-sized (random init, no hub) bf16 fine-tuning throughput and model FLOPs utilization.

MFU = 6 × parameters × tokens/s ÷ the GPU's dense bf16 peak (from a table of known parts;
a measured bf16 matmul FLOP/s is reported beside it). Training runs through the tasuki
runner (``run_training``, bf16 mixed precision, SDPA) on fixed ``[batch, seq]`` batches of
random token ids, timed per step after a warm-up, the same way as ``bench/training.py``.

    python -m bench --only gpu              # on a machine with a CUDA GPU
    accelerate launch --num_processes N -m bench --only gpu   # scaling, when several GPUs exist
"""

from __future__ import annotations

import random
import tempfile
from typing import Any

from bench.harness import Row
from bench.roofline import matmul_flops

# Dense (no sparsity) bf16 tensor-core peaks, FLOP/s, from the vendors' data sheets.
BF16_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "L4": 121e12}


def bf16_peak(name: str) -> float | None:
    """The data-sheet bf16 peak of a GPU by (part of) its name; ``None`` when unknown."""
    if "H100" in name and "PCIe" in name:
        return 756e12
    for key, value in BF16_PEAK.items():
        if key in name:
            return value
    return None


class RandomBert:
    """A backbone-like object: BERT-base config (12 layers, hidden 768), random weights, no tokenizer files."""

    spec = "random-bert-base"

    def __init__(self) -> None:
        from transformers import BertConfig, BertTokenizerFast

        self.config = BertConfig(attn_implementation="sdpa")  # BERT-base defaults: 110M parameters
        vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *map(str, range(1000))])}
        self.tokenizer = BertTokenizerFast(vocab=vocab)
        self.max_length = 512

    def build_model(self, auto_class: Any, **config: Any) -> Any:
        from transformers import BertConfig

        merged = BertConfig(**{**self.config.to_dict(), **config})
        merged._attn_implementation = "sdpa"
        return auto_class.from_config(merged)


def run(quick: bool = False, batch: int = 32, seq: int = 128) -> list[Row]:
    """One row: MFU of bf16 fine-tuning through the tasuki runner, with tokens/s in its note."""
    import torch
    from datasets import Dataset

    import tasuki
    from bench.training import StepClock
    from tasuki.args import TrainingArgs
    from tasuki.training.loop import run_training

    steps, warmup = (15, 5) if quick else (60, 10)
    rng = random.Random(0)
    # Each "text" is seq-2 digit words, so every feature is exactly [CLS] + seq-2 + [SEP] tokens.
    rows = [{"text": " ".join(str(rng.randrange(1000)) for _ in range(seq - 2)), "label": rng.choice("ab")}
            for _ in range(batch * (steps + 1))]
    data = Dataset.from_list(rows)
    # classify end to end, each text one feature: the shapes stay [batch, seq] (no few-shot model, no windows)
    task = tasuki.make_task("classify", recipe="standard", windows=False)
    task.fit(data)
    clock, inner = StepClock(), task.training_loss

    def timed(model: Any, b: dict[str, Any]) -> Any:
        torch.cuda.synchronize()  # a step starts once the previous one has really finished
        clock.mark(b)
        return inner(model, b)

    task.training_loss = timed
    backbone = RandomBert()
    with tempfile.TemporaryDirectory(prefix="tasuki-bench-gpu-") as out:
        args = TrainingArgs(output_dir=out, max_steps=steps, batch_size=batch, max_length=seq, mixed_precision="bf16",
                            save_steps=0, logging_steps=10**9, progress=False)
        model = run_training(task, backbone, data, None, args).model
    summary = clock.summary(warmup)
    params = sum(p.numel() for p in model.parameters())
    name = torch.cuda.get_device_name(0)
    peak = bf16_peak(name)
    measured = matmul_flops(8192, 10, device="cuda", dtype=torch.bfloat16)
    achieved = 6 * params * summary["real_tokens_per_s"]
    note = (f"{name}; BERT-base {params / 1e6:.0f}M params, bf16, batch {batch}x{seq}, "
            f"{summary['real_tokens_per_s']:,.0f} tokens/s; bf16 matmul measured {measured / 1e12:.0f} TFLOP/s")
    return [
        Row("gpu", "training MFU (6·N·tokens/s ÷ data-sheet bf16 peak)", achieved, peak, "FLOP/s", "higher",
            "data-sheet bf16 peak", note=note, extra=summary),
        Row("gpu", "training FLOP/s ÷ measured bf16 matmul", achieved, measured, "FLOP/s", "higher",
            "measured bf16 matmul 8192²", note=note),
    ]
