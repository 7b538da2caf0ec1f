"""``EncoderConfig`` and ``ScratchConfig`` cannot drift apart; the two classifiers share one head."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig

from tasuki_attention.config import EncoderConfig
from tasuki_attention.model import (
    ScratchClassifier,
    ScratchConfig,
    ScratchForSequenceClassification,
    ScratchForTokenClassification,
)

TINY = {"vocab_size": 50, "hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32}


def test_every_encoder_field_is_a_config_field_with_the_same_default() -> None:
    ours = {f.name: f.default for f in fields(ScratchConfig)}
    for f in fields(EncoderConfig):
        assert f.name in ours, f"ScratchConfig lacks EncoderConfig.{f.name}"
        assert ours[f.name] == f.default, f"{f.name}: {ours[f.name]!r} != {f.default!r}"
    assert ScratchConfig().encoder_config() == EncoderConfig()


def test_round_trip_through_config_json(tmp_path: Path) -> None:
    encoder = EncoderConfig(**TINY, norm_first=True, positional="sinusoidal", activation="relu", fused=False,
                            pad_token_id=3, dropout=0.2, type_vocab_size=0)
    ScratchConfig(**asdict(encoder), classifier_dropout=0.3).save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, ScratchConfig)
    assert loaded.encoder_config() == encoder
    assert loaded.classifier_dropout == 0.3
    assert (loaded.num_hidden_layers, loaded.num_attention_heads) == (1, 2)  # transformers' names still map


def test_bad_values_fail_when_configuring() -> None:
    with pytest.raises(ValueError, match="not divisible by the number of heads"):
        ScratchConfig(hidden_size=10, num_heads=4)


def test_both_classifiers_share_the_head() -> None:
    torch.manual_seed(0)
    config = ScratchConfig(**TINY, num_labels=3)
    ids = torch.randint(1, 50, (2, 7))  # (B, T)
    sequence, token = ScratchForSequenceClassification(config).eval(), ScratchForTokenClassification(config).eval()
    for model in (sequence, token):
        assert isinstance(model, ScratchClassifier)
        assert model.classifier.weight.shape == (3, 16)  # BERT's layer name: model.classifier on any backbone
    assert sequence(ids).logits.shape == (2, 3)  # (B, L)
    assert token(ids).logits.shape == (2, 7, 3)  # (B, T, L)
    assert sequence.scratch.pooler is not None and token.scratch.pooler is None
    # the same head on the same vectors: the token classifier's first position is the [CLS] vector's logits
    token.load_state_dict(sequence.state_dict(), strict=False)
    hidden = token.scratch(ids).last_hidden_state  # (B, T, C)
    torch.testing.assert_close(token(ids).logits[:, 0], sequence.classifier(hidden[:, 0]))
