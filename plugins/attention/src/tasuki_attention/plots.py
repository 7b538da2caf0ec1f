"""Pictures: the positional-encoding table, and attention weights for one sentence, per layer and head.

Works for the scratch encoder and for any Hugging Face encoder (loaded with the "eager"
attention implementation, since fused kernels do not return weights). Matplotlib with the
Agg backend; every function writes a PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tasuki.plugin import pyplot, save_figure
from tasuki_attention.numpy_ref import sinusoidal_positional_encoding


def plot_positional_encoding(path: str | Path, max_len: int = 128, d_model: int = 384) -> Path:
    """Heatmap of the sinusoidal table, position (rows) × dimension (columns)."""
    plt = pyplot()
    table = sinusoidal_positional_encoding(max_len, d_model)  # (P, C)
    fig, ax = plt.subplots(figsize=(10, 5))
    image = ax.imshow(table, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xlabel("dimension (even: sin, odd: cos; frequency falls to the right)")
    ax.set_ylabel("position")
    ax.set_title(f"Sinusoidal positional encoding ({max_len} positions × {d_model} dimensions)")
    fig.colorbar(image, ax=ax)
    return _save(fig, path)


def sentence_attentions(backbone: Any, sentence: str) -> tuple[list[str], np.ndarray]:
    """Tokens and attention weights ``(layers, heads, T, T)`` of ``sentence`` under ``backbone``.

    :param backbone: a :class:`tasuki.backbone.Backbone` or a spec (``minilm``, a directory,
        ``scratch:...``).
    """
    import torch

    from tasuki.plugin import resolve_backbone

    if not sentence.strip():
        raise ValueError("the sentence to plot is empty")
    backbone = resolve_backbone(backbone)
    # SDPA / flash kernels never materialise the weights; the eager implementation does.
    options = {"attn_implementation": "eager"} if backbone.from_pretrained_options else {}
    model = backbone.encoder(**options).eval()
    tokenizer = backbone.tokenizer
    inputs = tokenizer(sentence, return_tensors="pt", truncation=True, max_length=backbone.max_length)
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
    if not out.attentions or out.attentions[0] is None:
        raise ValueError(f"backbone {backbone.spec} returned no attention weights")
    weights = torch.stack([a[0] for a in out.attentions]).float().numpy()  # (L, H, T, T)
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist())
    return tokens, weights


def plot_attention_head(tokens: list[str], weights: np.ndarray, path: str | Path, title: str = "") -> Path:
    """One head's ``(T, T)`` weights: queries on rows, keys on columns."""
    plt = pyplot()
    t = len(tokens)
    size = max(4.0, min(14.0, 0.35 * t + 2))
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, interpolation="nearest")
    ax.set_xticks(range(t), tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(t), tokens, fontsize=8)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def plot_attention_grid(tokens: list[str], weights: np.ndarray, path: str | Path, title: str = "", *,
                        first_layer: int = 0, first_head: int = 0) -> Path:
    """Every layer (rows) and head (columns) of ``(L, H, T, T)`` weights as small heatmaps; ``first_layer`` and
    ``first_head`` number them when the weights are a slice of the model's (one layer, one head)."""
    plt = pyplot()
    layers, heads = weights.shape[:2]
    fig, axes = plt.subplots(layers, heads, figsize=(1.6 * heads + 1, 1.6 * layers + 1), squeeze=False)
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer][head]
            ax.imshow(weights[layer, head], cmap="viridis", vmin=0.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if layer == 0:
                ax.set_title(f"head {first_head + head}", fontsize=8)
            if head == 0:
                ax.set_ylabel(f"layer {first_layer + layer}", fontsize=8)
    fig.suptitle(title or f"attention over {len(tokens)} tokens: " + " ".join(tokens)[:120], fontsize=9)
    return _save(fig, path)


def plot_sentence(backbone: Any, sentence: str, path: str | Path, layer: int | None = None, head: int | None = None) -> Path:
    """Attention heatmap(s) of ``sentence``: one head, all heads of one layer, or the whole grid."""
    tokens, weights = sentence_attentions(backbone, sentence)  # (L, H, T, T)
    layers, heads = weights.shape[:2]
    if layer is not None and not 0 <= layer < layers:
        raise ValueError(f"layer {layer} is out of range: the model has layers 0..{layers - 1}")
    if head is not None and not 0 <= head < heads:
        raise ValueError(f"head {head} is out of range: the model has heads 0..{heads - 1}")
    name = getattr(backbone, "spec", backbone)
    if layer is not None and head is not None:
        return plot_attention_head(tokens, weights[layer, head], path, f"{name}: layer {layer}, head {head}")
    if layer is not None:
        return plot_attention_grid(tokens, weights[layer : layer + 1], path, f"{name}: layer {layer}, all heads",
                                   first_layer=layer)
    if head is not None:
        return plot_attention_grid(tokens, weights[:, head : head + 1], path, f"{name}: head {head}, all layers",
                                   first_head=head)
    return plot_attention_grid(tokens, weights, path, f"{name}: all layers and heads")


def _save(fig: Any, path: str | Path) -> Path:
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
