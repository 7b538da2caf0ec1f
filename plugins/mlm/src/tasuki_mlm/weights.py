"""What a masked-LM backbone directory holds: its tensor names (is there a pretrained MLM head?),
its pooler (kept when saving), and the token logits of either kind of MLM output."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: plugin discovery imports this module through the task
    import torch


def mlm_logits(output: Any) -> torch.Tensor:
    """(B, T, V) token logits of a masked-LM (``logits``) or pre-training (``prediction_logits``) output."""
    logits = getattr(output, "logits", None)
    return logits if logits is not None else output.prediction_logits


def checkpoint_keys(directory: Path) -> set[str] | None:
    """Tensor names of a local safetensors checkpoint (single file or sharded); None when not local."""
    single, index = directory / "model.safetensors", directory / "model.safetensors.index.json"
    if single.is_file():
        from safetensors import safe_open

        with safe_open(str(single), framework="pt") as handle:
            return set(handle.keys())
    if index.is_file():
        import json

        return set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}))
    return None


def pooler_weights(directory: Path, prefix: str) -> dict[str, torch.Tensor]:
    """The backbone checkpoint's pooler tensors under the MLM model's names (``bert.pooler.*``).

    A masked-LM model has no pooler, so saving it would drop the pretrained one and every
    classifier built on the adapted directory would start from a random pooler instead.
    """
    weights = directory / "model.safetensors"
    if not weights.is_file():
        return {}
    from safetensors import safe_open

    found = {}
    with safe_open(str(weights), framework="pt") as handle:
        for key in handle.keys():  # noqa: SIM118 - safe_open handles are not iterable
            local = key[len(prefix) :] if key.startswith(prefix) else key
            if local.startswith("pooler."):
                found[prefix + local] = handle.get_tensor(key)
    return found
