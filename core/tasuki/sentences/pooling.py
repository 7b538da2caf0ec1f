"""Pooling token vectors into one sentence vector: ``mean``, ``max`` or ``cls``, attention-mask aware.

The arithmetic follows ``sentence_transformers.models.Pooling`` (the parity tests compare
the two), so that a model saved here pools the same way when sentence-transformers loads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from tasuki.errors import DataError

POOLING_MODES = ("mean", "max", "cls")
POOLING_DIR = "1_Pooling"


class Pooling(nn.Module):
    """Reduce ``(B, T, H)`` token vectors to ``(B, H)`` sentence vectors, ignoring padding.

    :param mode: ``mean`` (average of the real tokens), ``max`` (element-wise maximum over
        the real tokens) or ``cls`` (the first token).
    """

    def __init__(self, mode: str = "mean") -> None:
        super().__init__()
        if mode not in POOLING_MODES:
            raise DataError(f"pooling must be one of {list(POOLING_MODES)}, not {mode!r}")
        self.mode = mode

    def forward(self, token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pool ``token_embeddings`` (B, T, H) under ``attention_mask`` (B, T) into (B, H)."""
        if self.mode == "cls":
            return token_embeddings[:, 0]  # (B, H)
        mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)  # (B, T, 1)
        if self.mode == "max":
            return token_embeddings.masked_fill(mask == 0, float("-inf")).max(dim=1).values  # (B, H)
        # Accumulate in fp32 when the encoder runs in half precision: sums of hundreds of
        # fp16 values lose digits that the parity with fp32 needs.
        acc = torch.float32 if token_embeddings.dtype in (torch.float16, torch.bfloat16) else token_embeddings.dtype
        summed = (token_embeddings * mask).sum(dim=1, dtype=acc)  # (B, H)
        counts = mask.sum(dim=1, dtype=acc).clamp(min=1e-9)  # (B, 1)
        return (summed / counts).to(token_embeddings.dtype)


def read_pooling_config(directory: str | Path) -> str | None:
    """The pooling mode of a sentence-transformers directory (``1_Pooling/config.json``), or None.

    Understands both the legacy ``pooling_mode_*_token(s)`` booleans and the newer
    ``pooling_mode`` key; a mode tasuki does not implement is an error rather than a silent
    change of the model's meaning.
    """
    directory = Path(directory)
    modules_file = directory / "modules.json"
    pooling_path = directory / POOLING_DIR
    if modules_file.is_file():
        try:
            modules = json.loads(modules_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{modules_file}: not valid JSON ({exc})") from None
        for module in modules:
            if str(module.get("type", "")).endswith("Pooling"):
                pooling_path = directory / module.get("path", POOLING_DIR)
    config_file = pooling_path / "config.json"
    if not config_file.is_file():
        return None
    config = json.loads(config_file.read_text(encoding="utf-8"))
    mode = config.get("pooling_mode")
    if mode is None:
        legacy = {
            "pooling_mode_cls_token": "cls",
            "pooling_mode_max_tokens": "max",
            "pooling_mode_mean_tokens": "mean",
            "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
            "pooling_mode_weightedmean_tokens": "weightedmean",
            "pooling_mode_lasttoken": "lasttoken",
        }
        active = [name for key, name in legacy.items() if config.get(key)]
        mode = active if len(active) > 1 else (active[0] if active else "mean")
    if isinstance(mode, list):
        mode = mode[0] if len(mode) == 1 else mode
    if mode not in POOLING_MODES:
        raise DataError(f"{config_file}: pooling {mode!r} is not supported; tasuki pools with {list(POOLING_MODES)}")
    return mode


def read_normalize(directory: str | Path) -> bool | None:
    """Whether a sentence-transformers directory ends with a ``Normalize`` module (None: not an ST directory)."""
    modules_file = Path(directory) / "modules.json"
    if not modules_file.is_file():
        return None
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    return any(str(m.get("type", "")).endswith("Normalize") for m in modules)


def read_max_seq_length(directory: str | Path) -> int | None:
    """``max_seq_length`` from ``sentence_bert_config.json``: what sentence-transformers truncates to."""
    config_file = Path(directory) / "sentence_bert_config.json"
    if not config_file.is_file():
        return None
    value = json.loads(config_file.read_text(encoding="utf-8")).get("max_seq_length")
    return int(value) if value else None
