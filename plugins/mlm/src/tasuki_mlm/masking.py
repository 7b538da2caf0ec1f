"""BERT's masking: choose a share of the tokens (or of whole words), then 80/10/10.

Of the tokens chosen for prediction, 80% become ``[MASK]``, 10% a random ordinary token
and 10% stay as they are (Devlin et al., 2019). Masking is done on *groups*: a group is
one token (token-level masking) or every token of one word (whole-word masking); a group
is chosen as a whole, then each of its tokens gets its own 80/10/10 draw, as in Google's
``create_pretraining_data.py``. Group ``-1`` (special tokens, padding) is never chosen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads where masks are drawn: plugin discovery imports this module
    import torch

IGNORE_INDEX = -100
"""Label of positions that are not predicted (``CrossEntropyLoss``'s ``ignore_index``)."""


def check_probability(value: float, name: str = "mlm_probability") -> float:
    """Return ``value`` if it lies strictly between 0 and 1, else raise ``ValueError`` naming it."""
    if not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return float(value)


def pad_features(features: Sequence[dict], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """``input_ids`` padded with ``pad_token_id`` and the attention mask, both (B, T); and, when the
    features have them, ``token_type_ids`` (B, T, padded with 0) and ``next_sentence_label`` (B,)."""
    import torch

    length = max(len(f["input_ids"]) for f in features)
    ids = torch.full((len(features), length), pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(features), length), dtype=torch.long)
    extra: dict[str, torch.Tensor] = {}
    if "token_type_ids" in features[0]:
        extra["token_type_ids"] = torch.zeros_like(ids)
    for row, feature in enumerate(features):
        ids[row, : len(feature["input_ids"])] = torch.tensor(feature["input_ids"])
        attention[row, : len(feature["input_ids"])] = 1
        if "token_type_ids" in extra:
            extra["token_type_ids"][row, : len(feature["token_type_ids"])] = torch.tensor(feature["token_type_ids"])
    if "next_sentence_label" in features[0]:
        extra["next_sentence_label"] = torch.tensor([f["next_sentence_label"] for f in features])
    return ids, attention, extra


def relabel_groups(word_ids: Sequence[int | None]) -> list[int]:
    """Word ids (``None``/-1 for tokens never masked) -> groups numbered 0, 1, ... per row."""
    mapping: dict[int, int] = {}
    groups = []
    for word in word_ids:
        if word is None or word < 0:
            groups.append(-1)
        else:
            groups.append(mapping.setdefault(word, len(mapping)))
    return groups


def replacement_candidates(vocab_size: int, special_ids: Iterable[int]) -> torch.Tensor:
    """Token ids a "random token" may be drawn from: the whole vocabulary but special tokens."""
    import torch

    keep = torch.ones(vocab_size, dtype=torch.bool)
    special = [i for i in special_ids if i is not None and 0 <= i < vocab_size]
    keep[special] = False
    return torch.nonzero(keep).squeeze(1)


def mask_tokens(
    input_ids: torch.Tensor,
    groups: torch.Tensor,
    *,
    probability: float,
    mask_token_id: int,
    candidates: torch.Tensor,
    generator: torch.Generator | None = None,
    mask_ratio: float = 0.8,
    random_ratio: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask ``input_ids`` for masked-language modelling; return ``(masked_ids, labels)``.

    :param input_ids: (B, T) token ids.
    :param groups: (B, T) group number per token, 0..G-1 within each row, ``-1`` = never masked.
    :param probability: share of groups chosen for prediction.
    :param candidates: (V',) ids a "random token" is drawn from (no special tokens).
    :param generator: a private RNG (deterministic evaluation); ``None`` draws from torch's
        global RNG, which the runner seeds and checkpoints.
    :returns: masked ids (B, T) and labels (B, T): the original id where chosen, else -100.

    A row with maskable tokens of which none was chosen gets one chosen group, so that no
    row (and no small batch) is without a target; on rows of realistic length this almost
    never happens and does not move the proportions.
    """
    import torch

    assert input_ids.shape == groups.shape and input_ids.ndim == 2, (input_ids.shape, groups.shape)
    batch, _ = input_ids.shape
    num_groups = int(groups.max().item()) + 1 if groups.numel() else 0
    maskable = groups >= 0  # (B, T)
    if num_groups == 0:
        return input_ids.clone(), torch.full_like(input_ids, IGNORE_INDEX)
    # One draw per (row, group), then broadcast to the group's tokens: whole words go together.
    group_draw = torch.rand((batch, num_groups), generator=generator)  # (B, G)
    group_chosen = group_draw < probability  # (B, G)
    present = torch.zeros((batch, num_groups), dtype=torch.bool)
    present[maskable.nonzero(as_tuple=True)[0], groups[maskable]] = True  # groups that exist in each row
    group_chosen &= present
    empty = ~group_chosen.any(dim=1) & present.any(dim=1)  # rows with targets available but none chosen
    if empty.any():
        # The lowest draw among a row's present groups: still random, and deterministic under ``generator``.
        pick = group_draw.masked_fill(~present, 2.0).argmin(dim=1)  # (B,)
        rows = empty.nonzero(as_tuple=True)[0]
        group_chosen[rows, pick[rows]] = True
    safe_groups = groups.clamp(min=0)
    chosen = torch.gather(group_chosen, 1, safe_groups) & maskable  # (B, T)

    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    # Per token: u < 0.8 -> [MASK]; 0.8 <= u < 0.9 -> random token; else unchanged.
    action = torch.rand(input_ids.shape, generator=generator)  # (B, T)
    to_mask = chosen & (action < mask_ratio)
    to_random = chosen & (action >= mask_ratio) & (action < mask_ratio + random_ratio)
    masked = input_ids.clone()
    masked[to_mask] = mask_token_id
    count = int(to_random.sum().item())
    if count:
        picks = torch.randint(len(candidates), (count,), generator=generator)
        masked[to_random] = candidates[picks].to(masked.dtype)
    return masked, labels


def fixed_masks(
    original: torch.Tensor, groups: torch.Tensor, attention: torch.Tensor, *, probability: float,
    mask_token_id: int, candidates: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask each row with an RNG seeded by its own tokens: the same text always gets the same masks."""
    import zlib

    import numpy as np
    import torch
    masked_rows, label_rows = [], []
    for row in range(original.shape[0]):
        n = int(attention[row].sum())
        tokens = original[row, :n].cpu()
        generator = torch.Generator().manual_seed(zlib.crc32(tokens.numpy().astype(np.int64).tobytes()))
        masked, labels = mask_tokens(
            original[row : row + 1].cpu(), groups[row : row + 1].cpu(),
            probability=probability, mask_token_id=mask_token_id,
            candidates=candidates, generator=generator,
        )
        masked_rows.append(masked)
        label_rows.append(labels)
    return torch.cat(masked_rows).to(original.device), torch.cat(label_rows).to(original.device)
