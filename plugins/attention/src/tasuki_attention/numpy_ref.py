"""The Transformer's attention in plain numpy: the readable reference the torch modules are tested against.

Conventions (the same as :func:`torch.nn.functional.scaled_dot_product_attention`):

- a boolean mask is ``True`` where a query **may** attend to a key;
- a floating mask is **added** to the scores (``-inf`` blocks a key);
- masks broadcast to the scores' shape ``(..., T_q, T_k)``;
- a query whose keys are all masked gets zero weights (and a zero output), not NaN.

Linear weights are stored as ``torch.nn.Linear`` stores them, ``(out_features, in_features)``,
so that ``y = x @ W.T + b`` and weights can be copied between the two implementations as is.
"""

from __future__ import annotations

import numpy as np


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``; a slice that is all ``-inf`` gives zeros."""
    peak = np.max(x, axis=axis, keepdims=True)
    # Subtracting the max keeps exp() from overflowing; an all -inf slice has max -inf, and
    # -inf - -inf is NaN, so such slices are shifted by 0 instead and come out as exp(-inf) = 0.
    peak = np.where(np.isfinite(peak), peak, 0.0)
    e = np.exp(x - peak)
    total = np.sum(e, axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def causal_mask(t_q: int, t_k: int | None = None) -> np.ndarray:
    """``(T_q, T_k)`` boolean mask: query ``i`` sees keys ``0..i`` (top-left aligned, as torch's ``is_causal``)."""
    t_k = t_q if t_k is None else t_k
    return np.tril(np.ones((t_q, t_k), dtype=bool))


def padding_mask(attention_mask: np.ndarray) -> np.ndarray:
    """``(B, T)`` 1/0 attention mask (1 = real token) -> ``(B, 1, 1, T)`` boolean key mask."""
    attention_mask = np.asarray(attention_mask)
    if attention_mask.ndim != 2:
        raise ValueError(f"attention mask must be (batch, seq_len), got shape {attention_mask.shape}")
    return attention_mask.astype(bool)[:, None, None, :]


def _check_mask(mask: np.ndarray, scores_shape: tuple[int, ...]) -> None:
    if mask.dtype != np.bool_ and not np.issubdtype(mask.dtype, np.floating):
        raise TypeError(f"attention mask must be boolean or floating, got dtype {mask.dtype}")
    try:
        np.broadcast_shapes(mask.shape, scores_shape)
    except ValueError:
        raise ValueError(
            f"attention mask of shape {mask.shape} does not broadcast to the scores' shape {scores_shape} (..., T_q, T_k)"
        ) from None


def scaled_dot_product_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    causal: bool = False,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(q kᵀ / √d + mask) v``.

    :param q: ``(..., T_q, D)`` queries.
    :param k: ``(..., T_k, D)`` keys.
    :param v: ``(..., T_k, D_v)`` values.
    :param mask: boolean (True = attend) or additive float mask broadcastable to ``(..., T_q, T_k)``.
    :param causal: also block keys after each query's position.
    :param scale: multiplier of the scores; ``1/√D`` by default.
    :returns: the output ``(..., T_q, D_v)`` and the attention weights ``(..., T_q, T_k)``.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys need the same last dimension, got {q.shape} and {k.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values need the same length, got {k.shape} and {v.shape}")
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ np.swapaxes(k, -1, -2)) * scale  # (..., T_q, T_k)
    if mask is not None:
        mask = np.asarray(mask)
        _check_mask(mask, scores.shape)
        scores = np.where(mask, scores, -np.inf) if mask.dtype == np.bool_ else scores + mask
    if causal:
        scores = np.where(causal_mask(q.shape[-2], k.shape[-2]), scores, -np.inf)
    weights = softmax(scores, axis=-1)  # (..., T_q, T_k)
    return weights @ v, weights


def split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:
    """``(B, T, C)`` -> ``(B, H, T, C/H)``."""
    b, t, c = x.shape
    return x.reshape(b, t, num_heads, c // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """``(B, H, T, D)`` -> ``(B, T, H*D)``."""
    b, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * d)


def multi_head_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    params: dict[str, np.ndarray],
    num_heads: int,
    mask: np.ndarray | None = None,
    *,
    causal: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-head attention: project, split into heads, attend per head, merge, project.

    :param query: ``(B, T_q, C)``; ``key`` and ``value``: ``(B, T_k, C)``.
    :param params: ``q_weight, q_bias, k_weight, k_bias, v_weight, v_bias, o_weight, o_bias``
        (weights ``(C, C)`` in ``torch.nn.Linear`` layout).
    :param mask: as in :func:`scaled_dot_product_attention`, broadcastable to ``(B, H, T_q, T_k)``.
    :returns: the output ``(B, T_q, C)`` and the per-head weights ``(B, H, T_q, T_k)``.
    """
    hidden = query.shape[-1]
    if hidden % num_heads:
        raise ValueError(f"hidden size {hidden} is not divisible by the number of heads {num_heads}")

    def project(x: np.ndarray, name: str) -> np.ndarray:
        return x @ params[f"{name}_weight"].T + params[f"{name}_bias"]

    q = split_heads(project(query, "q"), num_heads)  # (B, H, T_q, D)
    k = split_heads(project(key, "k"), num_heads)  # (B, H, T_k, D)
    v = split_heads(project(value, "v"), num_heads)  # (B, H, T_k, D)
    out, weights = scaled_dot_product_attention(q, k, v, mask, causal=causal)
    return project(merge_heads(out), "o"), weights  # (B, T_q, C), (B, H, T_q, T_k)


def sinusoidal_positional_encoding(max_len: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """``(max_len, d_model)`` table of "Attention is all you need" (§3.5).

    ``PE[p, 2i] = sin(p / base^(2i/d))`` and ``PE[p, 2i+1] = cos(p / base^(2i/d))``: each pair of
    dimensions is a rotation at its own frequency, so that ``PE[p+k]`` is a linear function of ``PE[p]``.
    """
    if max_len < 1 or d_model < 1:
        raise ValueError(f"positional table needs max_len >= 1 and d_model >= 1, got {max_len} and {d_model}")
    position = np.arange(max_len, dtype=np.float64)[:, None]  # (P, 1)
    frequency = base ** (-np.arange(0, d_model, 2, dtype=np.float64) / d_model)  # (ceil(d/2),)
    angle = position * frequency  # (P, ceil(d/2))
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : d_model // 2])  # an odd d_model has one sine more than cosines
    return table
