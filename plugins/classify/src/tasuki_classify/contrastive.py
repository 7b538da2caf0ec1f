"""The few-shot recipe's contrastive stage: the backbone, mean-pooled, tuned on batches of labelled training texts.

Each batch holds :data:`BATCH` texts, each encoded twice (two dropout masks: two views of it); the loss is the
contract's ``supervised_contrastive_loss`` (SupCon, Khosla et al. 2020): every view is pulled towards the
views of the texts it shares a label with (its own other view among them) and pushed from all the others in
the batch at once. So a batch of 16 texts holds all 496 pairs of its 32 views, where a pair loss sees 16 pairs.
Measured against SetFit's cosine-similarity pairs, the recipe's loss before, with the same forward passes,
averaging and head (``bench/RESULTS.md``, "Few-shot: SupCon against SetFit's pairs" and the section above it):
level on English tweets and BBC topics, 2 to 16 points ahead on the Japanese set at 8 texts a label.

Batches are drawn by :class:`CycleBatchSampler`: :data:`PASSES` seeded passes over the texts, end to end, cut
into batches of :data:`BATCH` (the forward passes of 16 pairs a text: what the pair recipe ran).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from tasuki.plugin import (
    Outputs,
    PredictionContext,
    SentenceEncoder,
    Task,
    load_data,
    pad_roles,
    supervised_contrastive_loss,
    tokenize_roles,
)

if TYPE_CHECKING:
    import torch
    from datasets import Dataset

    from tasuki.plugin import Backbone

PASSES = 16
"""Times each training text is drawn (each time in two views)."""
BATCH = 16
"""Texts a batch (32 views)."""
TEMPERATURE = 0.1
"""SupCon's temperature (cosine similarities are divided by it)."""
LENGTH_GROUPS = 2
"""Forward passes a batch is encoded in, its texts grouped by length (:func:`two_views`)."""
SETTINGS: dict[str, Any] = {"epochs": 1, "learning_rate": 2e-5, "batch_size": BATCH, "warmup_ratio": 0.1}
"""The stage's run: one epoch of the sampler's batches, SetFit's learning rate and warm-up."""


def stage_rows(texts: Sequence[str], rows: Sequence[Sequence[str]], labels: Sequence[str]) -> Dataset:
    """The stage's data: each text once, with its labels as a multi-hot list over ``labels`` and its ``row``
    (a text drawn twice into one batch is its own positive, whatever its labels: none, in multi-label)."""
    data = [{"text": text, "labels": [float(label in row) for label in labels], "row": i}
            for i, (text, row) in enumerate(zip(texts, rows))]
    return load_data(data, ContrastiveStage)[0]


def two_views(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Vectors (2B, H) of the ``B`` right-padded texts (B, T), then of the same texts again (other dropout masks).

    A batch drawn at random is not grouped by length (its composition is the loss), so its short texts carry
    much padding: the texts are encoded in :data:`LENGTH_GROUPS` forward passes by length, each cut to its
    longest text, where that saves a quarter of the tokens or more (tweets: a fifth of the stage's time; on
    texts of about one length, two smaller passes are slower than one). Padding is masked, so the vectors
    are the one pass's.
    """
    import torch

    size = len(ids)
    lengths = mask.sum(dim=1)
    groups = torch.argsort(lengths).chunk(LENGTH_GROUPS)
    if sum(len(g) * int(lengths[g].max()) for g in groups) > 0.75 * size * int(lengths.max()):
        groups = (torch.arange(size),)  # texts of about one length: one pass (smaller ones are slower)
    vectors: torch.Tensor | None = None
    for group in groups:
        width = int(lengths[group].max())
        encoded = model(input_ids=ids[group, :width].repeat(2, 1), attention_mask=mask[group, :width].repeat(2, 1))
        if vectors is None:
            vectors = encoded.new_empty((2 * size, encoded.shape[1]))
        vectors[group], vectors[group + size] = encoded[:len(group)], encoded[len(group):]
    return vectors


def view_positives(labels: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Which of the batch's ``2B`` views (the ``B`` texts, then the same texts again) are positives of which:
    views of texts that share a label (``labels`` (B, L) multi-hot), or of one text (``rows`` (B,)). (2B, 2B)."""
    labels, rows = labels.repeat(2, 1), rows.repeat(2)  # (2B, L), (2B,)
    return (labels @ labels.T > 0) | (rows[:, None] == rows[None, :])


class CycleBatchSampler:
    """:data:`PASSES` seeded permutations of ``size`` texts, end to end, cut into batches of ``batch_size``: a
    pure function of ``(seed, epoch)``, so a resumed run replays it (the runner's contract)."""

    def __init__(self, size: int, batch_size: int, seed: int, passes: int = PASSES) -> None:
        self.size, self.batch_size, self.seed, self.passes = size, batch_size, seed, passes
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batches to produce."""
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.size * self.passes / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        import torch

        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.cat([torch.randperm(self.size, generator=generator) for _ in range(self.passes)]).tolist()
        for start in range(0, len(order), self.batch_size):
            yield order[start:start + self.batch_size]


class ContrastiveStage(Task):
    """The recipe's first stage: a mean-pooled sentence encoder trained with SupCon on labelled texts.

    Columns ``text``, ``labels`` (multi-hot) and ``row``; ``predict`` gives each text's vector.
    """

    name: ClassVar[str] = "classify-contrastive"
    input_columns: ClassVar[tuple[str, ...]] = ("text",)
    target_columns: ClassVar[tuple[str, ...]] = ("labels", "row")
    main_metric: ClassVar[str] = "loss"
    greater_is_better: ClassVar[bool] = False

    initial: dict[str, torch.Tensor] | None = None
    """The encoder's weights before tuning (a copy on the CPU), for :meth:`averaged`."""

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        """Token ids of ``text`` (truncated to ``max_length``), its ``labels`` and ``row``."""
        return {**tokenize_roles({"text": batch["text"]}, tokenizer, max_length),
                "labels": batch["labels"], "row": batch["row"]}

    def collate(self, features: list[dict[str, Any]], tokenizer: Any) -> dict[str, torch.Tensor]:
        """``input_ids``/``attention_mask`` padded to the longest, ``labels`` (B, L) and ``row`` (B,)."""
        import torch

        batch = pad_roles(features, tokenizer)
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.float32)
        batch["row"] = torch.tensor([f["row"] for f in features], dtype=torch.long)
        return batch

    def batch_sampler(self, features: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0,
                      group_by_length: bool = True) -> Any:
        """Training: :class:`CycleBatchSampler` (batch composition is the loss: no grouping by length)."""
        if not shuffle:
            return super().batch_sampler(features, batch_size, shuffle=False, seed=seed)
        return CycleBatchSampler(len(features), batch_size, seed, PASSES)

    def build_model(self, backbone: Backbone) -> torch.nn.Module:
        """The backbone's encoder, mean-pooled; vectors are normalized inside the loss."""
        encoder = backbone.encoder()
        self.initial = {k: v.detach().to("cpu", copy=True) for k, v in encoder.state_dict().items()}
        return SentenceEncoder(encoder, pooling="mean", normalize=False, max_seq_length=backbone.max_length)

    def averaged(self, model: torch.nn.Module, weight: float) -> torch.nn.Module:
        """``model``'s encoder with ``weight`` of its tuned weights and the rest of its initial ones (WiSE-FT,
        Wortsman et al. 2022: the average keeps what pretraining knew that a few dozen texts cannot teach)."""
        encoder = model.encoder
        if self.initial is None or weight >= 1.0:
            return encoder
        tuned = encoder.state_dict()
        encoder.load_state_dict({k: (1 - weight) * self.initial[k].to(v.device, v.dtype) + weight * v
                                 if v.is_floating_point() else v for k, v in tuned.items()})
        return encoder

    def training_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """SupCon over two views of each text (each text encoded twice: dropout differs)."""
        vectors = two_views(model, batch["input_ids"], batch["attention_mask"])
        return supervised_contrastive_loss(vectors, view_positives(batch["labels"], batch["row"]), TEMPERATURE)

    def predict_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each text's vector ``vector`` (B, H)."""
        return {"vector": model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])}

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """None: the stage is scored by the head after it, on the task's own run."""
        return {}

    def postprocess(self, outputs: Outputs, features: Dataset, examples: Dataset, *,
                    context: PredictionContext | None = None) -> list[dict[str, Any]]:
        """``{"vector": [...]}`` per text."""
        return [{"vector": [float(x) for x in o["vector"]]} for o in outputs]
