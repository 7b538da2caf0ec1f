"""Parity: numpy reference == torch modules == PyTorch's own (F.sdpa, nn.MultiheadAttention,
nn.TransformerEncoderLayer / nn.TransformerEncoder), in fp32 and fp64, forward and backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tasuki_attention import numpy_ref as ref
from tasuki_attention.config import EncoderConfig
from tasuki_attention.modules import (
    Encoder,
    EncoderLayer,
    MultiHeadAttention,
    PositionalEncoding,
    ScaledDotProductAttention,
    padding_mask,
)

TOL = {torch.float32: {"atol": 2e-6, "rtol": 1e-5}, torch.float64: {"atol": 1e-12, "rtol": 1e-10}}
DTYPES = [torch.float32, torch.float64]


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _masks(dtype: torch.dtype) -> dict[str, torch.Tensor | None]:
    g = _generator(1)
    bool_mask = torch.rand(2, 1, 5, 7, generator=g) > 0.3  # (B, 1, T_q, T_k), broadcast over heads
    bool_mask[0, 0, 2] = False  # one query that sees no key at all
    bool_mask[:, :, :, 0] = True
    bool_mask[0, 0, 2, 0] = False
    return {
        "none": None,
        "bool": bool_mask,
        "float": torch.randn(2, 3, 5, 7, generator=g, dtype=dtype),  # additive, per head
        "padding": padding_mask(torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0]])),
    }


def copy_from_torch_mha(mine: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    """torch packs q, k, v into one (3C, C) in_proj; ours keeps three (C, C) linears."""
    with torch.no_grad():
        for proj, w, b in zip(
            (mine.q_proj, mine.k_proj, mine.v_proj), theirs.in_proj_weight.chunk(3), theirs.in_proj_bias.chunk(3)
        ):
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        mine.out_proj.weight.copy_(theirs.out_proj.weight)
        mine.out_proj.bias.copy_(theirs.out_proj.bias)


def copy_from_torch_layer(mine: EncoderLayer, theirs: nn.TransformerEncoderLayer) -> None:
    copy_from_torch_mha(mine.attention, theirs.self_attn)
    pairs = [
        (mine.feed_forward.up, theirs.linear1),
        (mine.feed_forward.down, theirs.linear2),
        (mine.attention_norm, theirs.norm1),
        (mine.feed_forward_norm, theirs.norm2),
    ]
    for a, b in pairs:
        a.load_state_dict(b.state_dict())


# --- numpy reference vs torch modules -----------------------------------------------------


@pytest.mark.parametrize("mask_kind", ["none", "bool", "padding"])
@pytest.mark.parametrize("causal", [False, True])
def test_torch_attention_equals_numpy(mask_kind: str, causal: bool) -> None:
    g = _generator()
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g, dtype=torch.float64) for _ in range(3))
    k, v = torch.randn(2, 3, 7, 8, generator=g, dtype=torch.float64), torch.randn(2, 3, 7, 8, generator=g).double()
    mask = _masks(torch.float64)[mask_kind]
    out, weights = ScaledDotProductAttention()(q, k, v, mask, is_causal=causal)
    np_mask = None if mask is None else mask.numpy()
    ref_out, ref_weights = ref.scaled_dot_product_attention(q.numpy(), k.numpy(), v.numpy(), np_mask, causal=causal)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), ref_weights, atol=1e-12)


def test_torch_multi_head_attention_equals_numpy() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(12, 3).double().eval()
    x = torch.randn(2, 6, 12, dtype=torch.float64)
    mask = padding_mask(torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0]]))
    out, weights = mha(x, mask=mask, need_weights=True)
    params = {
        f"{name}_{kind}": getattr(getattr(mha, f"{name}_proj" if name != "o" else "out_proj"), kind).detach().numpy()
        for name in "qkvo"
        for kind in ("weight", "bias")
    }
    ref_out, ref_weights = ref.multi_head_attention(x.numpy(), x.numpy(), x.numpy(), params, 3, mask.numpy())
    np.testing.assert_allclose(out.detach().numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(weights.detach().numpy(), ref_weights, atol=1e-12)


def test_sinusoidal_module_equals_numpy() -> None:
    table = PositionalEncoding(64, 10, "sinusoidal")(64)
    np.testing.assert_allclose(table.numpy(), ref.sinusoidal_positional_encoding(64, 10), atol=1e-6)
    assert PositionalEncoding(64, 10, "learned")(5).shape == (5, 10)


# --- ScaledDotProductAttention vs F.scaled_dot_product_attention ----------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "padding"])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_torch_sdpa(dtype: torch.dtype, mask_kind: str, causal: bool) -> None:
    g = _generator()
    q = torch.randn(2, 3, 5, 8, generator=g, dtype=dtype, requires_grad=True)
    k = torch.randn(2, 3, 7, 8, generator=g, dtype=dtype, requires_grad=True)
    v = torch.randn(2, 3, 7, 8, generator=g, dtype=dtype, requires_grad=True)
    mask = _masks(dtype)[mask_kind]
    out, _ = ScaledDotProductAttention()(q, k, v, mask, is_causal=causal)
    if mask is not None and causal:  # F.sdpa takes a mask or is_causal, not both
        tril = torch.ones(5, 7, dtype=torch.bool).tril()
        mask = mask & tril if mask.dtype == torch.bool else mask.masked_fill(~tril, float("-inf"))
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    else:
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    expected_grads = torch.autograd.grad(expected.square().sum(), (q, k, v))
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, **TOL[dtype])


# --- MultiHeadAttention vs nn.MultiheadAttention --------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_equals_torch(dtype: torch.dtype, fused: bool, causal: bool) -> None:
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True, dtype=dtype)
    mine = MultiHeadAttention(16, 4, fused=fused).to(dtype)
    copy_from_torch_mha(mine, theirs)
    x = torch.randn(3, 6, 16, dtype=dtype, requires_grad=True)
    attention_mask = torch.tensor([[1] * 6, [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]])
    causal_blocked = torch.ones(6, 6, dtype=torch.bool).triu(1) if causal else None  # torch: True = blocked
    want, want_weights = theirs(
        x,
        x,
        x,
        key_padding_mask=attention_mask == 0,
        attn_mask=causal_blocked,
        need_weights=True,
        average_attn_weights=False,
    )
    got, got_weights = mine(x, mask=padding_mask(attention_mask), is_causal=causal, need_weights=not fused)
    torch.testing.assert_close(got, want, **TOL[dtype])
    if not fused:
        torch.testing.assert_close(got_weights, want_weights, **TOL[dtype])
    # Backward: gradients of the input and of every weight agree.
    (g_mine,) = torch.autograd.grad(got.square().sum(), x, retain_graph=True)
    (g_theirs,) = torch.autograd.grad(want.square().sum(), x, retain_graph=True)
    torch.testing.assert_close(g_mine, g_theirs, **TOL[dtype])
    got.square().sum().backward()
    want.square().sum().backward()
    packed = torch.cat([mine.q_proj.weight.grad, mine.k_proj.weight.grad, mine.v_proj.weight.grad])
    torch.testing.assert_close(packed, theirs.in_proj_weight.grad, **TOL[dtype])
    torch.testing.assert_close(mine.out_proj.weight.grad, theirs.out_proj.weight.grad, **TOL[dtype])


def test_cross_attention_shapes() -> None:
    mha = MultiHeadAttention(8, 2)
    out, weights = mha(torch.randn(2, 3, 8), torch.randn(2, 5, 8), need_weights=True)
    assert out.shape == (2, 3, 8) and weights.shape == (2, 2, 3, 5)


# --- EncoderLayer / Encoder vs nn.TransformerEncoderLayer / nn.TransformerEncoder --------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_encoder_layer_equals_torch(dtype: torch.dtype, norm_first: bool, activation: str) -> None:
    torch.manual_seed(0)
    kwargs = {"dropout": 0.0, "activation": activation, "norm_first": norm_first, "layer_norm_eps": 1e-5}
    theirs = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, dtype=dtype, **kwargs)
    mine = EncoderLayer(16, 4, 32, attention_dropout=0.0, **kwargs).to(dtype)
    copy_from_torch_layer(mine, theirs)
    x = torch.randn(2, 5, 16, dtype=dtype, requires_grad=True)
    attention_mask = torch.tensor([[1] * 5, [1, 1, 1, 0, 0]])
    want = theirs(x, src_key_padding_mask=attention_mask == 0)
    got, _ = mine(x, padding_mask(attention_mask))
    torch.testing.assert_close(got, want, **TOL[dtype])
    grads = torch.autograd.grad(got.sum(), x)[0], torch.autograd.grad(want.sum(), x)[0]
    torch.testing.assert_close(*grads, **TOL[dtype])


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_equals_torch_encoder(norm_first: bool) -> None:
    torch.manual_seed(0)
    config = EncoderConfig(
        hidden_size=16,
        num_layers=3,
        num_heads=4,
        intermediate_size=32,
        dropout=0.0,
        attention_dropout=0.0,
        norm_first=norm_first,
        layer_norm_eps=1e-5,
    )
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True, norm_first=norm_first)
    final = nn.LayerNorm(16) if norm_first else None
    theirs = nn.TransformerEncoder(layer, 3, norm=final, enable_nested_tensor=False)
    for i, torch_layer in enumerate(theirs.layers):  # TransformerEncoder deep-copies: give each layer its own weights
        for p in torch_layer.parameters():
            p.data.normal_(0, 0.3, generator=_generator(i))
    mine = Encoder(config)
    for own, torch_layer in zip(mine.layers, theirs.layers):
        copy_from_torch_layer(own, torch_layer)
    if norm_first:
        mine.final_norm.load_state_dict(theirs.norm.state_dict())
    x = torch.randn(2, 5, 16)
    attention_mask = torch.tensor([[1] * 5, [1, 1, 1, 1, 0]])
    want = theirs(x, src_key_padding_mask=attention_mask == 0)
    out = mine(x, padding_mask(attention_mask), output_hidden_states=True, output_attentions=True)
    torch.testing.assert_close(out.last_hidden_state, want, **TOL[torch.float32])
    assert len(out.hidden_states) == 4 and len(out.attentions) == 3
    assert out.attentions[0].shape == (2, 4, 5, 5)


# --- gradcheck (fp64, small shapes) --------------------------------------------------------


def test_gradcheck_attention() -> None:
    g = _generator()
    q, k, v = (torch.randn(1, 2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = torch.tensor([[True, True, False], [True, False, False], [True, True, True]])
    attention = ScaledDotProductAttention()
    assert torch.autograd.gradcheck(lambda q, k, v: attention(q, k, v, mask)[0], (q, k, v))
    assert torch.autograd.gradcheck(lambda q, k, v: attention(q, k, v, is_causal=True)[1], (q, k, v))


@pytest.mark.parametrize("fused", [False, True])
def test_gradcheck_multi_head_attention(fused: bool) -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(4, 2, fused=fused).double()
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    mask = padding_mask(torch.tensor([[1, 1, 1], [1, 1, 0]]))
    assert torch.autograd.gradcheck(lambda x: mha(x, mask=mask)[0], (x,))


@pytest.mark.parametrize("norm_first", [False, True])
def test_gradcheck_encoder_layer(norm_first: bool) -> None:
    torch.manual_seed(0)
    layer = EncoderLayer(4, 2, 8, dropout=0.0, attention_dropout=0.0, norm_first=norm_first).double()
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: layer(x)[0], (x,))


# --- dropout: train mode only ----------------------------------------------------------------


@pytest.mark.parametrize("fused", [False, True])
def test_dropout_acts_in_train_mode_only(fused: bool) -> None:
    torch.manual_seed(0)
    layer = EncoderLayer(16, 4, 32, dropout=0.3, attention_dropout=0.3, fused=fused)
    x = torch.randn(2, 5, 16)
    layer.train()
    assert not torch.allclose(layer(x)[0], layer(x)[0])
    layer.eval()
    torch.testing.assert_close(layer(x)[0], layer(x)[0], rtol=0, atol=0)
