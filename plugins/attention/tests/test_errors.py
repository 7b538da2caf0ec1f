"""Bad input to the torch modules and configs: clear errors that say what is wrong and what to do."""

from __future__ import annotations

import pytest
import torch

from tasuki_attention.config import EncoderConfig
from tasuki_attention.encoder import ScratchEncoder
from tasuki_attention.model import ScratchConfig
from tasuki_attention.modules import MultiHeadAttention, PositionalEncoding, ScaledDotProductAttention, padding_mask


def test_head_count_must_divide_hidden_size() -> None:
    with pytest.raises(ValueError, match="hidden size 10 is not divisible by the number of heads 4"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match=r"hidden size 10 is not divisible .* choose heads among \[1, 2, 5, 10\]"):
        EncoderConfig(hidden_size=10, num_heads=4)
    with pytest.raises(ValueError, match="not divisible"):
        ScratchConfig(hidden_size=10, num_heads=4)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("num_layers", 0, "num_layers must be a positive integer"),
        ("activation", "swish", "activation must be one of"),
        ("positional", "rotary", "positional must be one of"),
        ("dropout", 1.5, r"dropout must be in \[0, 1\)"),
    ],
)
def test_config_values_are_checked(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EncoderConfig(**{field: value})


def test_input_of_the_wrong_width_or_rank() -> None:
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"query must be \(batch, seq_len, 8\), got \(2, 3, 6\)"):
        mha(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"key \(2, 4, 8\) and value \(2, 5, 8\) must both be"):
        mha(torch.randn(2, 3, 8), torch.randn(2, 4, 8), torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="incompatible q"):
        ScaledDotProductAttention()(torch.randn(1, 3, 4), torch.randn(1, 3, 5), torch.randn(1, 3, 4))


@pytest.mark.parametrize("need_weights", [False, True])
def test_mask_of_the_wrong_dtype(need_weights: bool) -> None:
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 3, 8)
    with pytest.raises(TypeError, match=r"must be torch.bool \(True = attend\) or torch.float32 .* got torch.int64"):
        mha(x, mask=torch.ones(2, 1, 1, 3, dtype=torch.long), need_weights=need_weights)
    with pytest.raises(TypeError, match="got torch.float64"):
        mha(x, mask=torch.zeros(2, 1, 1, 3, dtype=torch.float64), need_weights=need_weights)


@pytest.mark.parametrize("need_weights", [False, True])
def test_mask_of_the_wrong_shape(need_weights: bool) -> None:
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 3, 8)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 3\) does not broadcast to .* \(2, 2, 3, 3\).*padding_mask"):
        mha(x, mask=torch.ones(2, 3, dtype=torch.bool), need_weights=need_weights)
    with pytest.raises(ValueError, match=r"attention_mask must be \(batch, seq_len\)"):
        padding_mask(torch.ones(2, 1, 3))


def test_encoder_checks_its_inputs() -> None:
    encoder = ScratchEncoder(EncoderConfig(vocab_size=20, hidden_size=8, num_layers=1, num_heads=2, max_positions=4))
    with pytest.raises(ValueError, match=r"input_ids must be \(batch, seq_len\)"):
        encoder(torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"attention_mask \(1, 2\) must have input_ids' shape \(1, 3\)"):
        encoder(torch.ones(1, 3, dtype=torch.long), torch.ones(1, 2))
    with pytest.raises(ValueError, match=r"sequence of 5 positions is longer than the positional table \(4\)"):
        encoder(torch.ones(1, 5, dtype=torch.long))


def test_positional_table_errors() -> None:
    with pytest.raises(ValueError, match="'sinusoidal' or 'learned', got 'rope'"):
        PositionalEncoding(8, 4, "rope")
    with pytest.raises(ValueError, match=r"longer than the positional table \(8\)"):
        PositionalEncoding(8, 4, "learned")(9)
