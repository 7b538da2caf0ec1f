"""The few-shot recipe: contrastive tuning of the encoder on batches of labelled texts (SupCon), then a head.

With a few dozen labelled texts, fine-tuning a classifier end to end has too few steps and too little
held-out data to stop at the right one. SetFit's recipe does far better at that size, and this is it,
run by tasuki's own runner:

1. **Contrastive stage** (:class:`~tasuki_classify.contrastive.ContrastiveStage`, a
   :class:`~tasuki.plugin.Stage`): the backbone, mean-pooled, learns from batches of training texts that
   texts sharing a label lie close and the others apart (SupCon, the contract's
   ``supervised_contrastive_loss``; a multi-label text shares a label or not with each other). The tuned
   weights are then averaged with the pretrained ones (:data:`TUNED_WEIGHT`).
2. **Head**: :class:`~tasuki_classify.pooled.PooledClassifier`, a linear head over the tuned encoder's
   unit-length mean-pooled vectors, the encoder frozen: fitted exactly by SetFit's logistic regression
   (:mod:`tasuki_classify.head`; multinomial, or one binary regression per label; the penalty set by the
   vectors' spread), then the task's own run.

:func:`choose_recipe` picks it from the data: few-shot when the training data has at most
:data:`FEW_SHOT_MAX_PER_LABEL` rows per label on average.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tasuki.plugin import (
    SentenceEncoder,
    Stage,
)
from tasuki_classify import contrastive, head

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
seeds; 32 and 64 measured with the pair loss before SupCon): the crossing is at about 64 a label, and above it
the standard recipe is the default."""
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
        log.info("classify: %d training rows, %.0f per label: the few-shot recipe (contrastive tuning on batches of "
                 "texts, then a head; no held-out split unless --eval-split or --eval-data); --option "
                 "recipe=standard to fine-tune end to end", rows, per_label)
    else:
        log.info("classify: %d training rows, %.0f per label: fine-tuned end to end (the few-shot recipe is chosen "
                 "at %d or fewer per label; --option recipe=few-shot)", rows, per_label, FEW_SHOT_MAX_PER_LABEL)
    return recipe


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
        """Few-shot: the contrastive stage over the training texts (its batches seeded by the run's seed)."""
        if not self.few_shot:
            return []
        texts = [str(t) for t in train[self.input_columns[0]]]
        rows = self._rows(train, "training data")
        self._head_data = (texts, rows, args.max_length)  # the head is fitted on them in build_model
        if len(texts) < 2:
            return []
        log.info("classify: few-shot: contrastive tuning on the %d training texts, each drawn %d times in batches "
                 "of %d", len(texts), contrastive.PASSES, contrastive.BATCH)
        stage = contrastive.ContrastiveStage(lang=self.lang)

        def keep(model: torch.nn.Module) -> None:
            self._tuned_encoder = stage.averaged(model, TUNED_WEIGHT)

        data = contrastive.stage_rows(texts, rows, self.labels)
        return [Stage("contrastive", stage, data, dict(contrastive.SETTINGS), done=keep)]

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
            fitted = head.logistic_head(vectors, rows, self.labels, self.multi_label, self.loss_weights)
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
