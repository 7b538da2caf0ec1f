"""The Transformer encoder's parts as ``torch.nn`` modules, one concept per class.

Shapes: ``B`` batch, ``T`` sequence length (``T_q`` queries, ``T_k`` keys), ``C`` hidden size,
``H`` heads, ``D = C / H`` head size. Masks follow :func:`torch.nn.functional.scaled_dot_product_attention`:
a boolean mask is ``True`` where attention is allowed, a floating mask is added to the scores;
both broadcast to ``(B, H, T_q, T_k)``. :func:`padding_mask` turns a tokenizer's 1/0
``attention_mask`` into that form. Dropout acts in train mode only (``nn.Dropout`` and
``dropout_p=0`` in eval), so ``model.eval()`` is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tasuki_attention.config import EncoderConfig


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` 1/0 mask (1 = real token) -> ``(B, 1, 1, T)`` boolean key mask (True = attend)."""
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be (batch, seq_len), got shape {tuple(attention_mask.shape)}")
    return attention_mask.bool()[:, None, None, :]


def check_mask(mask: torch.Tensor, scores_shape: tuple[int, ...], dtype: torch.dtype) -> None:
    """Raise a clear error for a mask of the wrong dtype, or one that does not broadcast to the scores."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"attention mask must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool and mask.dtype != dtype:
        raise TypeError(
            f"attention mask must be torch.bool (True = attend) or {dtype} (added to the scores), got {mask.dtype}; "
            "a 1/0 tokenizer mask should go through padding_mask()"
        )
    try:
        torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        raise ValueError(
            f"attention mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
            f"{tuple(scores_shape)} (B, H, T_q, T_k); a (B, T) padding mask should go through padding_mask()"
        ) from None


class ScaledDotProductAttention(nn.Module):
    """``softmax(q kᵀ / √D + mask) v``, written out, returning the weights too.

    The explicit twin of :func:`torch.nn.functional.scaled_dot_product_attention` (same masks,
    same zero output for a query with no visible key); the weights returned are those before
    dropout, which is what one wants to look at.
    """

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``q (..., T_q, D)``, ``k (..., T_k, D)``, ``v (..., T_k, D_v)`` -> ``(..., T_q, D_v)``, ``(..., T_q, T_k)``."""
        if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
            raise ValueError(f"incompatible q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
        if mask is not None:
            check_mask(mask, scores.shape, q.dtype)
            scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        if is_causal:
            causal = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
            scores = scores.masked_fill(~causal, float("-inf"))
        if mask is not None or is_causal:
            # A query that sees no key would softmax over all -inf (NaN); give it zero weights instead,
            # as F.scaled_dot_product_attention does, with no gradient through the blocked row.
            dead = scores.amax(dim=-1, keepdim=True) == float("-inf")  # (..., T_q, 1)
            weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)
        else:
            weights = torch.softmax(scores, dim=-1)
        return self.dropout(weights) @ v, weights


class MultiHeadAttention(nn.Module):
    """Project to queries, keys and values, attend in ``H`` heads in parallel, merge, project.

    :param fused: when the weights are not asked for, call ``F.scaled_dot_product_attention``
        (flash / memory-efficient kernels where available); the explicit
        :class:`ScaledDotProductAttention` otherwise. Both give the same result.
    """

    def __init__(self, hidden_size: int, num_heads: int, dropout: float = 0.0, *, bias: bool = True, fused: bool = True) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden size {hidden_size} is not divisible by the number of heads {num_heads}")
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads
        self.fused = fused
        self.q_proj = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.k_proj = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.v_proj = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.out_proj = nn.Linear(hidden_size, hidden_size, bias=bias)
        self.attention = ScaledDotProductAttention(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_size).transpose(1, 2)  # (B, H, T, D)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        *,
        is_causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``query (B, T_q, C)``, ``key``/``value (B, T_k, C)`` (self-attention when omitted).

        :returns: ``(B, T_q, C)`` and, with ``need_weights``, the per-head weights ``(B, H, T_q, T_k)``.
        """
        key = query if key is None else key
        value = key if value is None else value
        if query.dim() != 3 or query.shape[-1] != self.hidden_size:
            raise ValueError(f"query must be (batch, seq_len, {self.hidden_size}), got {tuple(query.shape)}")
        if key.shape != value.shape or key.shape[0] != query.shape[0] or key.shape[-1] != self.hidden_size:
            raise ValueError(
                f"key {tuple(key.shape)} and value {tuple(value.shape)} must both be "
                f"({query.shape[0]}, seq_len, {self.hidden_size})"
            )
        b, t_q, c = query.shape
        q = self._split(self.q_proj(query))  # (B, H, T_q, D)
        k = self._split(self.k_proj(key))  # (B, H, T_k, D)
        v = self._split(self.v_proj(value))  # (B, H, T_k, D)
        if mask is not None:
            check_mask(mask, (b, self.num_heads, t_q, key.shape[1]), q.dtype)
        weights = None
        if self.fused and not need_weights:
            if mask is not None and is_causal:  # SDPA takes one or the other: fold causality into the mask
                causal = torch.ones(t_q, key.shape[1], dtype=torch.bool, device=q.device).tril()
                mask = mask & causal if mask.dtype == torch.bool else mask.masked_fill(~causal, float("-inf"))
                is_causal = False
            p = self.attention.dropout.p if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal)
        else:
            out, weights = self.attention(q, k, v, mask, is_causal)  # (B, H, T_q, D), (B, H, T_q, T_k)
        out = out.transpose(1, 2).reshape(b, t_q, c)  # (B, T_q, C)
        return self.out_proj(out), weights


class PositionalEncoding(nn.Module):
    """A ``(max_positions, C)`` table of position vectors: fixed sinusoids, or learned embeddings.

    ``forward(T)`` returns the first ``T`` rows; asking for more rows than the table has is an error.
    """

    def __init__(self, max_positions: int, hidden_size: int, kind: str = "sinusoidal") -> None:
        super().__init__()
        if kind not in ("sinusoidal", "learned"):
            raise ValueError(f"positional encoding must be 'sinusoidal' or 'learned', got {kind!r}")
        self.max_positions = max_positions
        self.kind = kind
        if kind == "learned":
            self.embedding = nn.Embedding(max_positions, hidden_size)
        else:
            # Not a parameter, and not saved: it is a function of the shape alone.
            self.register_buffer("table", sinusoidal_table(max_positions, hidden_size), persistent=False)

    def forward(self, seq_len: int, offset: int = 0) -> torch.Tensor:
        """Rows ``offset .. offset+seq_len-1``: ``(T, C)``."""
        if offset + seq_len > self.max_positions:
            raise ValueError(
                f"sequence of {offset + seq_len} positions is longer than the positional table "
                f"({self.max_positions}): truncate inputs (max_length) or build the encoder with more max_positions"
            )
        if self.kind == "learned":
            positions = torch.arange(offset, offset + seq_len, device=self.embedding.weight.device)
            return self.embedding(positions)
        return self.table[offset : offset + seq_len]


def sinusoidal_table(max_positions: int, hidden_size: int, base: float = 10000.0) -> torch.Tensor:
    """``(P, C)`` float32: ``sin`` on even dimensions, ``cos`` on odd ones, frequencies ``base^(-2i/C)``."""
    position = torch.arange(max_positions, dtype=torch.float64)[:, None]  # (P, 1)
    frequency = base ** (-torch.arange(0, hidden_size, 2, dtype=torch.float64) / hidden_size)  # (ceil(C/2),)
    angle = position * frequency  # (P, ceil(C/2))
    table = torch.zeros(max_positions, hidden_size, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : hidden_size // 2])
    return table.float()


class PositionwiseFeedForward(nn.Module):
    """The same two-layer MLP at every position: ``C -> intermediate -> C``."""

    def __init__(self, hidden_size: int, intermediate_size: int, activation: str = "gelu") -> None:
        super().__init__()
        self.up = nn.Linear(hidden_size, intermediate_size)
        self.activation = {"gelu": nn.GELU(), "relu": nn.ReLU()}[activation]
        self.down = nn.Linear(intermediate_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` -> ``(B, T, C)``."""
        return self.down(self.activation(self.up(x)))


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each in a residual branch with dropout and layer norm.

    Post-norm (BERT, the original Transformer): ``x = norm(x + drop(f(x)))``.
    Pre-norm (GPT-2 and most recent models; trains without warm-up): ``x = x + drop(f(norm(x)))``.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        *,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        activation: str = "gelu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-12,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.attention = MultiHeadAttention(hidden_size, num_heads, attention_dropout, fused=fused)
        self.attention_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.feed_forward = PositionwiseFeedForward(hidden_size, intermediate_size, activation)
        self.feed_forward_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, *, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x (B, T, C)`` -> ``(B, T, C)`` and the attention weights ``(B, H, T, T)`` if asked for."""
        if self.norm_first:
            attended, weights = self.attention(self.attention_norm(x), mask=mask, need_weights=need_weights)
            x = x + self.dropout(attended)
            x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))
        else:
            attended, weights = self.attention(x, mask=mask, need_weights=need_weights)
            x = self.attention_norm(x + self.dropout(attended))
            x = self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))
        return x, weights


@dataclass
class EncoderOutput:
    """What :class:`Encoder` returns."""

    last_hidden_state: torch.Tensor
    """``(B, T, C)``."""
    hidden_states: tuple[torch.Tensor, ...] | None = None
    """The input and every layer's output, ``num_layers + 1`` tensors ``(B, T, C)``."""
    attentions: tuple[torch.Tensor, ...] | None = None
    """Every layer's weights, ``(B, H, T, T)``."""


class Encoder(nn.Module):
    """A stack of :class:`EncoderLayer` (plus a final norm when pre-norm, as the residual stream is unnormalised)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(
                config.hidden_size,
                config.num_heads,
                config.intermediate_size,
                dropout=config.dropout,
                attention_dropout=config.attention_dropout,
                activation=config.activation,
                norm_first=config.norm_first,
                layer_norm_eps=config.layer_norm_eps,
                fused=config.fused,
            )
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.norm_first else None

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> EncoderOutput:
        """``x (B, T, C)`` -> :class:`EncoderOutput`."""
        hidden_states = [x] if output_hidden_states else None
        attentions = [] if output_attentions else None
        for layer in self.layers:
            x, weights = layer(x, mask, need_weights=output_attentions)
            if hidden_states is not None:
                hidden_states.append(x)
            if attentions is not None:
                attentions.append(weights)
        if self.final_norm is not None:
            x = self.final_norm(x)
            if hidden_states is not None:
                hidden_states[-1] = x
        return EncoderOutput(
            x,
            tuple(hidden_states) if hidden_states is not None else None,
            tuple(attentions) if attentions is not None else None,
        )
