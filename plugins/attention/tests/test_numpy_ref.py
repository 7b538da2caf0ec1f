"""The numpy reference on its own: known values and invariants."""

from __future__ import annotations

import numpy as np
import pytest

from tasuki_attention import numpy_ref as ref

rng = np.random.default_rng(0)


def test_softmax_is_stable_and_normalised() -> None:
    x = np.array([[1000.0, 1001.0, 1002.0], [-1e9, 0.0, 1.0]])
    y = ref.softmax(x)
    np.testing.assert_allclose(y.sum(-1), 1.0)
    np.testing.assert_allclose(y[0], ref.softmax(np.array([0.0, 1.0, 2.0])))  # shift invariance, no overflow
    assert np.all(np.isfinite(y))


def test_softmax_of_all_masked_row_is_zero() -> None:
    y = ref.softmax(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]))
    np.testing.assert_array_equal(y, [[0.0, 0.0], [1.0, 0.0]])


def test_attention_matches_the_formula() -> None:
    q, k, v = rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 5, 3))
    out, weights = ref.scaled_dot_product_attention(q, k, v)
    scores = np.einsum("bqd,bkd->bqk", q, k) / np.sqrt(8)
    expected = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected)
    np.testing.assert_allclose(out, expected @ v)
    assert out.shape == (2, 4, 3)


def test_causal_mask_hides_the_future() -> None:
    x = rng.normal(size=(1, 4, 6))
    _, weights = ref.scaled_dot_product_attention(x, x, x, causal=True)
    assert np.all(np.triu(weights[0], k=1) == 0)
    np.testing.assert_allclose(weights[0, 0], [1, 0, 0, 0])  # the first token only sees itself


def test_padding_mask_gives_padded_keys_no_weight_and_float_mask_is_equivalent() -> None:
    x = rng.normal(size=(2, 3, 4))
    mask = ref.padding_mask(np.array([[1, 1, 1], [1, 1, 0]]))  # (B, 1, 1, T)
    assert mask.shape == (2, 1, 1, 3)
    _, weights = ref.scaled_dot_product_attention(x[:, None], x[:, None], x[:, None], mask)
    assert np.all(weights[1, 0, :, 2] == 0)
    additive = np.where(mask, 0.0, -np.inf)
    out_bool, _ = ref.scaled_dot_product_attention(x[:, None], x[:, None], x[:, None], mask)
    out_float, _ = ref.scaled_dot_product_attention(x[:, None], x[:, None], x[:, None], additive)
    np.testing.assert_allclose(out_bool, out_float)


def test_multi_head_attention_with_one_head_is_single_attention_after_projections() -> None:
    c = 6
    params = {f"{n}_{p}": rng.normal(size=(c, c) if p == "weight" else (c,)) for n in "qkvo" for p in ("weight", "bias")}
    x = rng.normal(size=(2, 5, c))
    out, weights = ref.multi_head_attention(x, x, x, params, num_heads=1)
    proj = {n: x @ params[f"{n}_weight"].T + params[f"{n}_bias"] for n in "qkv"}
    single, w = ref.scaled_dot_product_attention(proj["q"], proj["k"], proj["v"])
    np.testing.assert_allclose(out, single @ params["o_weight"].T + params["o_bias"])
    np.testing.assert_allclose(weights[:, 0], w)
    out3, weights3 = ref.multi_head_attention(x, x, x, params, num_heads=3)
    assert out3.shape == (2, 5, c) and weights3.shape == (2, 3, 5, 5)


def test_sinusoidal_table_known_values() -> None:
    table = ref.sinusoidal_positional_encoding(50, 8)
    assert table.shape == (50, 8)
    np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1, 0, 1])  # sin(0), cos(0)
    np.testing.assert_allclose(table[3, 0], np.sin(3.0))
    np.testing.assert_allclose(table[3, 3], np.cos(3.0 / 10000 ** (2 / 8)))
    odd = ref.sinusoidal_positional_encoding(4, 5)
    np.testing.assert_allclose(odd[:, 4], np.sin(np.arange(4) / 10000 ** (4 / 5)))


def test_bad_inputs_raise_clear_errors() -> None:
    x = rng.normal(size=(1, 3, 6))
    params = {f"{n}_{p}": np.zeros((6, 6) if p == "weight" else 6) for n in "qkvo" for p in ("weight", "bias")}
    with pytest.raises(ValueError, match="not divisible by the number of heads 4"):
        ref.multi_head_attention(x, x, x, params, num_heads=4)
    with pytest.raises(TypeError, match="boolean or floating"):
        ref.scaled_dot_product_attention(x, x, x, np.ones((3, 3), dtype=int))
    with pytest.raises(ValueError, match=r"does not broadcast to the scores' shape \(1, 3, 3\)"):
        ref.scaled_dot_product_attention(x, x, x, np.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="same last dimension"):
        ref.scaled_dot_product_attention(x, x[..., :4], x)
    with pytest.raises(ValueError, match="max_len >= 1"):
        ref.sinusoidal_positional_encoding(0, 8)
