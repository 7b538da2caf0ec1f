"""Features of texts that are encoded apart (pairs, triplets): token ids per text column, their padding,
and one forward pass of a sentence encoder for all columns.

A feature holds one token-id list per text column (``input_ids``, ``pair_input_ids``,
``negative_input_ids``) and, for scored pairs, ``score``. Tasks that train sentence vectors (the
embedding task, classification's contrastive stage) delegate ``encode``, ``collate`` and their
embedding step here, through the contract (:mod:`tasuki.plugin`).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads where batches and models are built: plugin discovery imports the task
    import torch
    from transformers import PreTrainedTokenizerBase

ROLES = ("text", "pair", "negative")
"""Text columns, in order; their features are ``input_ids``, ``pair_input_ids``, ``negative_input_ids``."""


def role_prefix(role: str) -> str:
    """The feature-name prefix of a text column: ``""`` for ``text``, ``"pair_"``, ``"negative_"``."""
    return "" if role == "text" else f"{role}_"


def tokenize_roles(batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_length: int) -> dict[str, list]:
    """Token ids per text column present, truncated to ``max_length`` (with one warning counting the cut
    texts), and ``score`` as a float."""
    features: dict[str, list] = {}
    truncated = 0
    for role in ROLES:
        if role not in batch:
            continue
        ids = tokenizer(
            batch[role], truncation=True, max_length=max_length, return_attention_mask=False,
            return_token_type_ids=False, return_overflowing_tokens=False, return_length=False,
        )["input_ids"]
        truncated += sum(len(x) >= max_length for x in ids)
        features[f"{role_prefix(role)}input_ids"] = ids
    if truncated:
        # stacklevel 3: the warning points at the task's encode caller, as when encode warned itself
        warnings.warn(f"{truncated} text(s) reached max_length={max_length} tokens and were truncated", stacklevel=3)
    if "score" in batch:
        features["score"] = [float(s) for s in batch["score"]]
    return features


def pad_roles(features: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase) -> dict[str, torch.Tensor]:
    """Pad each text column to its longest: ``input_ids``/``attention_mask`` (B, T) per role, ``score`` (B,)."""
    import torch

    pad_id = tokenizer.pad_token_id or 0
    batch: dict[str, torch.Tensor] = {}
    for role in ROLES:
        key = f"{role_prefix(role)}input_ids"
        if key not in features[0]:
            continue
        rows = [f[key] for f in features]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, T)
        mask = torch.zeros((len(rows), width), dtype=torch.long)  # (B, T)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        batch[key] = ids
        batch[f"{role_prefix(role)}attention_mask"] = mask
    if "score" in features[0]:
        batch["score"] = torch.tensor([f["score"] for f in features], dtype=torch.float32)
    return batch


def embed_roles(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Vectors (B, H) per text column, from one forward pass over all columns padded to one width."""
    import torch

    roles = [r for r in ROLES if f"{role_prefix(r)}input_ids" in batch]
    ids = [batch[f"{role_prefix(r)}input_ids"] for r in roles]
    masks = [batch[f"{role_prefix(r)}attention_mask"] for r in roles]
    width = max(x.shape[1] for x in ids)
    # Right padding with masked positions leaves every real token's output unchanged.
    ids = torch.cat([torch.nn.functional.pad(x, (0, width - x.shape[1])) for x in ids])  # (R*B, T)
    masks = torch.cat([torch.nn.functional.pad(x, (0, width - x.shape[1])) for x in masks])  # (R*B, T)
    vectors = model(input_ids=ids, attention_mask=masks)  # (R*B, H)
    return dict(zip(roles, vectors.chunk(len(roles))))
