"""The few-shot recipe: contrastive tuning of the encoder on pairs built from the labels, then a head.

With a few dozen labelled texts, fine-tuning a classifier end to end has too few steps and too little
held-out data to stop at the right one. SetFit's recipe does far better at that size, and this is it,
run by tasuki's own runner:

1. **Contrastive stage** (:class:`ContrastiveStage`, a :class:`~tasuki.plugin.Stage`): the backbone,
   mean-pooled, learns from pairs of training texts that cosine similarity is 1 within a label and 0
   across labels (a multi-label pair is positive when the two texts share a label), the
   ``cosine_similarity_loss`` of the contract: one epoch over :func:`build_pairs`. The tuned weights are
   then averaged with the pretrained ones (:data:`TUNED_WEIGHT`, :meth:`ContrastiveStage.averaged`).
2. **Head**: :class:`~tasuki_classify.pooled.PooledClassifier`, a linear head over the tuned encoder's
   unit-length mean-pooled vectors, the encoder frozen: fitted exactly by SetFit's logistic regression
   (:mod:`tasuki_classify.head`; multinomial, or one binary regression per label; the penalty set by the
   vectors' spread), then the task's own run.

:func:`choose_recipe` picks it from the data: few-shot when the training data has at most
:data:`FEW_SHOT_MAX_PER_LABEL` rows per label on average.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from tasuki.plugin import (
    Outputs,
    PredictionContext,
    SentenceEncoder,
    Stage,
    Task,
    cosine_similarity_loss,
    embed_roles,
    load_data,
    pad_roles,
    role_prefix,
    tokenize_roles,
)
from tasuki_classify import head

if TYPE_CHECKING:
    from pathlib import Path

    import torch
    from datasets import Dataset

    from tasuki.plugin import Backbone

log = logging.getLogger(__name__)

FEW_SHOT_MAX_PER_LABEL = 64
"""Few-shot up to this many training rows per label on average: SetFit's range (8-64 a label). Measured against
end-to-end fine-tuning (``bench/RESULTS.md``): 2 to 25 points ahead at 8 and 16 a label; at 32, 2 to 5 ahead on
English and level on Japanese; at 64, 0.9 to 1.7 ahead on English and level on Japanese (0.5 behind, over 4
seeds): the crossing is at about 64 a label, and above it the standard recipe is the default."""
PAIRS_PER_TEXT = 8
"""Pairs of each side (positive, negative) per training text, at most: 16 pairs a text in all."""
CONTRASTIVE_SETTINGS: dict[str, Any] = {"epochs": 1, "learning_rate": 2e-5, "batch_size": 16, "warmup_ratio": 0.1}
"""The contrastive stage's run (SetFit's: one epoch over the pairs, 2e-5, 16 pairs a batch)."""
TUNED_WEIGHT = 0.5
"""The head reads an encoder whose weights are this much the tuned ones and the rest the pretrained ones."""
HEAD_DEFAULTS: dict[str, Any] = {"eval_split": 0.0, "epochs": 1, "learning_rate": 1e-4, "batch_size": 16,
                                 "warmup_ratio": 0.0, "weight_decay": 0.0, "min_steps": 0}
"""The task's own run, after the head was fitted exactly (:mod:`tasuki_classify.head`): no held-out split
(every labelled row is worth more in training); one pass at a learning rate small enough to stay at the
fitted head (a few steps of 1e-4), through the runner, which evaluates, checkpoints and saves the model."""


def choose_recipe(rows: int, labels: int, given: str | None) -> str:
    """``given``, else ``few-shot`` when ``rows / labels <= FEW_SHOT_MAX_PER_LABEL``, else ``standard``;
    the choice and how to override it are logged."""
    if given is not None:
        return given
    per_label = rows / max(labels, 1)
    recipe = "few-shot" if per_label <= FEW_SHOT_MAX_PER_LABEL else "standard"
    if recipe == "few-shot":
        log.info("classify: %d training rows, %.0f per label: the few-shot recipe (contrastive tuning on pairs of "
                 "texts, then a head; no held-out split); --option recipe=standard to fine-tune end to end",
                 rows, per_label)
    return recipe


def build_pairs(rows: Sequence[Sequence[str]], seed: int, per_side: int | None = None) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, score)`` of row indices ``i < j``: score 1.0 when the rows share a label, else 0.0.

    Each side (positive, negative) gets ``per_side`` pairs (default: as many as the larger side has,
    at most :data:`PAIRS_PER_TEXT` per row): every pair of the side once in a seeded order, then again
    from the start until the count is reached. The sides alternate, positive first; a side without any
    pair is left out. Deterministic for a seed.
    """
    labels = [frozenset(r) for r in rows]
    positive = [(i, j) for i in range(len(rows)) for j in range(i + 1, len(rows)) if labels[i] & labels[j]]
    negative = [(i, j) for i in range(len(rows)) for j in range(i + 1, len(rows)) if not labels[i] & labels[j]]
    if per_side is None:
        per_side = min(max(len(positive), len(negative)), PAIRS_PER_TEXT * len(rows))
    shuffler = random.Random(seed)
    sides = []
    for side, score in ((positive, 1.0), (negative, 0.0)):
        shuffler.shuffle(side)
        sides.append([(*side[n % len(side)], score) for n in range(per_side)] if side else [])
    pairs: list[tuple[int, int, float]] = []
    for n in range(per_side):
        pairs.extend(side[n] for side in sides if side)
    return pairs


class ContrastiveStage(Task):
    """The recipe's first stage: a mean-pooled sentence encoder trained on scored pairs of texts.

    Columns ``text``, ``pair`` and ``score`` (1.0 same label, 0.0 not), encoded apart; the loss is
    the contract's ``cosine_similarity_loss``. ``predict`` gives each pair's cosine similarity.
    """

    name: ClassVar[str] = "classify-contrastive"
    input_columns: ClassVar[tuple[str, ...]] = ("text", "pair")
    target_columns: ClassVar[tuple[str, ...]] = ("score",)
    main_metric: ClassVar[str] = "mse"
    greater_is_better: ClassVar[bool] = False

    def encode(self, batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
        """Token ids of ``text`` and ``pair`` (truncated to ``max_length``: the stage sees each text's start)."""
        return tokenize_roles(batch, tokenizer, max_length)

    def collate(self, features: list[dict[str, Any]], tokenizer: Any) -> dict[str, torch.Tensor]:
        """Each column padded to its longest, and ``score``."""
        return pad_roles(features, tokenizer)

    def feature_length(self, feature: dict[str, Any]) -> int:
        """The longer text of the pair (for batches grouped by length)."""
        return max(len(feature[f"{role_prefix(r)}input_ids"]) for r in ("text", "pair"))

    initial: dict[str, torch.Tensor] | None = None
    """The encoder's weights before tuning (a copy on the CPU), for :meth:`averaged`."""

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
        """Mean squared error between each pair's cosine similarity and its score."""
        vectors = embed_roles(model, batch)
        return cosine_similarity_loss(vectors["text"], vectors["pair"], batch["score"])

    def predict_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each pair's cosine similarity ``cosine`` (B,)."""
        import torch.nn.functional as F

        vectors = embed_roles(model, batch)
        return {"cosine": F.cosine_similarity(vectors["text"], vectors["pair"])}

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """``mse`` between the pairs' cosine similarities and their scores (what the stage minimizes)."""
        cosines = [float(o["cosine"]) for o in outputs]
        scores = [float(s) for s in examples["score"]]
        return {"mse": sum((c - s) ** 2 for c, s in zip(cosines, scores)) / max(len(scores), 1)}

    def postprocess(self, outputs: Outputs, features: Dataset, examples: Dataset, *,
                    context: PredictionContext | None = None) -> list[dict[str, Any]]:
        """``{"score": cosine}`` per pair."""
        return [{"score": float(o["cosine"])} for o in outputs]


class FewShotRecipe:
    """The few-shot recipe's part of :class:`~tasuki_classify.task.ClassifyTask`: the task hooks that
    differ when ``options.recipe`` is ``few-shot`` (its stage, its model, how that model is saved)."""

    _tuned_encoder: Any = None
    _head_data: tuple[list[str], list[list[str]], int] | None = None
    _label_rates: list[float] | None = None  # each label's share of the training rows (choose_recipe)

    def choose_recipe(self, rows: int, counts: Mapping[str, int]) -> None:
        """Called by ``fit`` with the training rows and each label's count: settle ``options.recipe`` (a given
        recipe stays) and keep each label's rate for :meth:`build_model`."""
        self.options.recipe = choose_recipe(rows, len(self.labels or []), self.options.recipe)
        self._label_rates = [counts.get(label, 0) / max(rows, 1) for label in self.labels or []]

    @property
    def few_shot(self) -> bool:
        """Whether this task trains (or was trained) with the few-shot recipe."""
        return self.options.recipe == "few-shot"

    def recipe_defaults(self) -> dict[str, Any]:
        """The head run's training defaults under the few-shot recipe (:data:`HEAD_DEFAULTS`)."""
        return dict(HEAD_DEFAULTS) if self.few_shot else {}

    def stages(self, train: Dataset, args: Any) -> list[Stage]:
        """Few-shot: the contrastive stage over pairs of the training texts (seeded by the run's seed)."""
        if not self.few_shot:
            return []
        texts = [str(t) for t in train[self.input_columns[0]]]
        rows = self._rows(train, "training data")
        self._head_data = (texts, rows, args.max_length)  # the head is fitted on them in build_model
        pairs = [{"text": texts[i], "pair": texts[j], "score": score} for i, j, score in build_pairs(rows, args.seed)]
        if not pairs:
            return []
        data, _ = load_data(pairs, ContrastiveStage)
        log.info("classify: few-shot: %d pairs of the %d training texts (%d positive)", len(pairs), len(texts),
                 sum(p["score"] == 1.0 for p in pairs))
        stage = ContrastiveStage(lang=self.lang)

        def keep(model: torch.nn.Module) -> None:
            self._tuned_encoder = stage.averaged(model, TUNED_WEIGHT)

        return [Stage("contrastive", stage, data, dict(CONTRASTIVE_SETTINGS), done=keep)]

    def build_model(self, backbone: Backbone) -> torch.nn.Module:
        """Few-shot: the (tuned) encoder, mean-pooled and normalized, under a linear head; the encoder frozen.
        Standard: the backbone under the task's head; a multi-label one starts at the labels' rates in the training
        data (:func:`~tasuki_classify.head.start_at_rates`: on sparse labels a head at 0.5 spends its first few
        hundred steps learning how rare each label is)."""
        if not self.few_shot:
            model = super().build_model(backbone)
            if self.multi_label and self._label_rates:
                head.start_at_rates(model, self._label_rates)
            return model
        import torch

        from tasuki_classify.pooled import PooledClassifier

        encoder = self._tuned_encoder if self._tuned_encoder is not None else backbone.encoder()
        sentence = SentenceEncoder(encoder, pooling="mean", normalize=True, max_seq_length=backbone.max_length)
        texts, rows, max_length = self._head_data or ([], [], None)
        model = PooledClassifier(sentence, len(self.labels), multi_label=self.multi_label)
        for key, value in self.model_config().items():
            setattr(model.config, key, value)
        model.freeze_encoder()
        if texts:
            vectors = head.embed(sentence, backbone.tokenizer, texts, max_length or backbone.max_length)
            fitted = head.logistic_head(vectors, rows, self.labels, self.multi_label)
            log.info("classify: few-shot head: C %.3g (1 over the vectors' spread)", fitted.c)
            answer = head.one_answer_for_all(fitted, vectors, self.multi_label)
            if answer is not None and len({tuple(r) for r in rows}) > 1:
                log.warning("classify: the few-shot head gives all %d training texts one answer (%s): it has not "
                            "learnt to tell the labels apart (check that the labels match the texts, or label more "
                            "texts)", len(texts), ", ".join(self.labels[i] for i in answer) or "no label")
            with torch.no_grad():
                model.classifier.weight.copy_(torch.as_tensor(fitted.weight))
                model.classifier.bias.copy_(torch.as_tensor(fitted.bias))
            # the penalty of C * sum(losses) + |W|^2 / 2 over the rows, for the runner's mean loss over a batch
            model.l2 = 1.0 / (fitted.c * len(texts))
        return model

    def load_model(self, directory: Path) -> torch.nn.Module:
        """Few-shot: :meth:`PooledClassifier.load <tasuki_classify.pooled.PooledClassifier.load>`."""
        if not self.few_shot:
            return super().load_model(directory)
        from tasuki_classify.pooled import PooledClassifier

        return PooledClassifier.load(directory, multi_label=self.multi_label)

    def save_model(self, model: torch.nn.Module, directory: Path) -> None:
        """Few-shot: the encoder in the sentence-transformers layout, and the head beside it."""
        if not self.few_shot:
            return super().save_model(model, directory)
        model.save(directory, self.model_config())
