"""What the ``mlm`` task's predict step computes and how fill-mask answers are decoded.

- :func:`masked_scores`: evaluation on deterministic masks (each feature re-masked with an RNG seeded
  by its own tokens), so two models are scored on the same positions;
- :func:`top_candidates` / :func:`fill_mask_results`: fill-mask, ``pipeline("fill-mask")``-shaped.

:class:`tasuki_mlm.task.MaskedLMTask` delegates here; torch is imported by the callers' batches only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki_mlm.masking import IGNORE_INDEX, fixed_masks
from tasuki_mlm.weights import mlm_logits

if TYPE_CHECKING:  # annotations only: plugin discovery imports this module through the task
    import torch


def top_candidates(model: torch.nn.Module, batch: dict[str, torch.Tensor], top_k: int) -> dict[str, torch.Tensor]:
    """Fill-mask (no labels): the ``top_k`` candidates per position, (B, T, k) ids and scores."""
    logits = mlm_logits(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]))
    scores, ids = logits.float().softmax(-1).topk(top_k, dim=-1)  # (B, T, k)
    return {"top_ids": ids, "top_scores": scores, "input_ids": batch["input_ids"]}


def masked_scores(model: torch.nn.Module, batch: dict[str, torch.Tensor], groups: torch.Tensor, *,
                  probability: float, mask_token_id: int, candidates: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Evaluation: per-feature loss sum, masked count and correct count (and NSP correctness), on masks
    drawn again from each feature's own tokens in place of collate's random ones."""
    import torch

    labels = batch["labels"]
    original = torch.where(labels != IGNORE_INDEX, labels, batch["input_ids"])  # undo collate's random masks
    masked, labels = fixed_masks(original, groups, batch["attention_mask"], probability=probability,
                                 mask_token_id=mask_token_id, candidates=candidates)
    pair = {k: batch[k] for k in ("token_type_ids",) if k in batch}
    output = model(input_ids=masked, attention_mask=batch["attention_mask"], **pair)
    logits = mlm_logits(output)  # (B, T, V)
    loss = torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), labels, ignore_index=IGNORE_INDEX, reduction="none"
    )  # (B, T)
    chosen = labels != IGNORE_INDEX
    correct = (logits.argmax(-1) == labels) & chosen
    kept = {"loss_sum": loss.sum(1), "masked": chosen.sum(1), "correct": correct.sum(1)}
    if "next_sentence_label" in batch:
        guess = output.seq_relationship_logits.argmax(-1)  # (B,)
        kept["nsp_correct"] = (guess == batch["next_sentence_label"]).long()
    return kept


def fill_mask_results(outputs: Any, features: Any, tokenizer: Any) -> list[Any]:
    """Per example, like ``pipeline("fill-mask")``: a list of ``{score, token, token_str, sequence}`` for
    one mask, a list of such lists for several."""
    results = []
    for feature, output in zip(features, outputs):
        ids = list(feature["input_ids"])  # unpadded: trims the runner's padding
        positions = [i for i, t in enumerate(ids) if t == tokenizer.mask_token_id]
        per_mask = []
        for position in positions:
            candidates = []
            for token, score in zip(output["top_ids"][position], output["top_scores"][position]):
                filled = list(ids)
                filled[position] = int(token)
                candidates.append({
                    "score": float(score),
                    "token": int(token),
                    "token_str": tokenizer.decode([int(token)]),
                    "sequence": tokenizer.decode(filled, skip_special_tokens=True),
                })
            per_mask.append(candidates)
        results.append(per_mask[0] if len(per_mask) == 1 else per_mask)
    return results
