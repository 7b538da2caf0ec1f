"""Load a BERT checkpoint (config.json + model.safetensors) into the scratch encoder.

The scratch encoder is laid out like BERT, so conversion is renaming: ``BertModel``'s
``encoder.layer.3.attention.self.query`` is our ``encoder.encoder.layers.3.attention.q_proj``.
Only safetensors are read (a pickled ``pytorch_model.bin`` can run code when loaded).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from tasuki_attention.model import ScratchConfig

# BertModel name (without a leading "bert.") -> name inside ScratchModel; {i} is the layer.
_EMBEDDINGS = {
    "embeddings.word_embeddings.": "encoder.embeddings.tokens.",
    "embeddings.position_embeddings.": "encoder.embeddings.positions.embedding.",
    "embeddings.token_type_embeddings.": "encoder.embeddings.token_types.",
    "embeddings.LayerNorm.": "encoder.embeddings.norm.",
    "pooler.dense.": "pooler.dense.",
}
_LAYER = {
    "attention.self.query.": "attention.q_proj.",
    "attention.self.key.": "attention.k_proj.",
    "attention.self.value.": "attention.v_proj.",
    "attention.output.dense.": "attention.out_proj.",
    "attention.output.LayerNorm.": "attention_norm.",
    "intermediate.dense.": "feed_forward.up.",
    "output.dense.": "feed_forward.down.",
    "output.LayerNorm.": "feed_forward_norm.",
}
# BertForMaskedLM's head ("cls.predictions...") -> ScratchForMaskedLM's "lm_head...".
_MLM_HEAD = {
    "cls.predictions.transform.dense.": "dense.",
    "cls.predictions.transform.LayerNorm.": "norm.",
    "cls.predictions.decoder.bias": "decoder.bias",
    "cls.predictions.bias": "decoder.bias",
}
_LAYER_KEY = re.compile(r"^encoder\.layer\.(\d+)\.(.*)$")


def scratch_config_from_bert(bert: dict[str, Any]) -> ScratchConfig:
    """The :class:`ScratchConfig` equal to a BERT ``config.json`` (post-norm, learned positions)."""
    if bert.get("model_type") not in ("bert", None):
        raise ValueError(f"expected a BERT checkpoint (model_type 'bert'), got model_type {bert.get('model_type')!r}")
    if bert.get("hidden_act", "gelu") not in ("gelu", "relu"):
        raise ValueError(f"the scratch encoder has gelu and relu, not hidden_act {bert['hidden_act']!r}")
    if bert.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"only absolute positions are supported, not {bert['position_embedding_type']!r}")
    return ScratchConfig(
        vocab_size=bert["vocab_size"],
        hidden_size=bert["hidden_size"],
        num_layers=bert["num_hidden_layers"],
        num_heads=bert["num_attention_heads"],
        intermediate_size=bert["intermediate_size"],
        max_positions=bert.get("max_position_embeddings", 512),
        type_vocab_size=bert.get("type_vocab_size", 2),
        dropout=bert.get("hidden_dropout_prob", 0.1),
        attention_dropout=bert.get("attention_probs_dropout_prob", 0.1),
        activation=bert.get("hidden_act", "gelu"),
        norm_first=False,
        positional="learned",
        layer_norm_eps=bert.get("layer_norm_eps", 1e-12),
        pad_token_id=bert.get("pad_token_id", 0),
        initializer_range=bert.get("initializer_range", 0.02),
    )


def convert_bert_state_dict(
    bert: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Rename a BERT state dict: ``(ScratchModel weights, MaskedLMHead weights)``; the head part may be empty."""
    base: dict[str, torch.Tensor] = {}
    head: dict[str, torch.Tensor] = {}
    for name, tensor in bert.items():
        if name.startswith("cls."):
            for old, new in _MLM_HEAD.items():
                if name.startswith(old):
                    head[new + name[len(old) :]] = tensor
            continue
        name = name.removeprefix("bert.")
        if name.endswith(("position_ids", "token_type_ids")):  # index buffers, not weights
            continue
        match = _LAYER_KEY.match(name)
        if match:
            index, rest = match.groups()
            for old, new in _LAYER.items():
                if rest.startswith(old):
                    base[f"encoder.encoder.layers.{index}.{new}{rest[len(old) :]}"] = tensor
                    break
            else:
                raise ValueError(f"unexpected BERT weight {name!r}")
            continue
        for old, new in _EMBEDDINGS.items():
            if name.startswith(old):
                base[new + name[len(old) :]] = tensor
                break
        else:
            raise ValueError(f"unexpected BERT weight {name!r}")
    return base, head


def load_bert(directory: str | Path) -> tuple[ScratchConfig, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Read a BERT directory: the equivalent config, the encoder weights and (if any) the MLM head weights."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config_file, weights = directory / "config.json", directory / "model.safetensors"
    if not config_file.is_file():
        raise FileNotFoundError(f"{directory}: no config.json, expected a BERT model directory")
    if not weights.is_file():
        raise FileNotFoundError(
            f"{directory}: no model.safetensors; only safetensors weights are loaded "
            "(convert a pytorch_model.bin with transformers' save_pretrained(safe_serialization=True))"
        )
    config = scratch_config_from_bert(json.loads(config_file.read_text(encoding="utf-8")))
    base, head = convert_bert_state_dict(load_file(str(weights)))
    return config, base, head
