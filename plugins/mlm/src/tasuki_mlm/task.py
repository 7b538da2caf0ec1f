"""The ``mlm`` task: masked-language-model domain adaptation and fill-mask prediction.

Features are blocks of ``max_length`` tokens cut from the concatenated corpus (or one per
line with ``line_by_line=True``). Masking happens in :meth:`MaskedLMTask.collate`, drawn from
torch's global RNG, so every epoch sees fresh masks and the runner's seeding and checkpoints
make it reproducible. Evaluation re-masks each feature with an RNG seeded by its own tokens,
so that two models (before/after, head-only/full) are scored on exactly the same masked
positions.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tasuki.plugin import DataError, LazyAutoModel, Outputs, PredictionContext, Task, setting
from tasuki_mlm.blocks import FILL_MASK, encode_blocks, encode_lines, encode_pairs
from tasuki_mlm.masking import mask_tokens, pad_features, relabel_groups, replacement_candidates
from tasuki_mlm.scoring import fill_mask_results, masked_scores, top_candidates
from tasuki_mlm.weights import checkpoint_keys, pooler_weights

if TYPE_CHECKING:  # torch loads where batches are built: plugin discovery imports this module
    import torch
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from tasuki.plugin import Backbone

logger = logging.getLogger(__name__)
GROUPS = "mask_groups"  # batch key: (B, T) word group per token, -1 = never masked



@dataclass
class MlmOptions:
    """Options of the ``mlm`` task, saved with the model."""

    mlm_probability: float = setting(0.15, min=0, max=1, min_open=True, max_open=True)
    """Share of tokens (or words) chosen for prediction."""
    whole_word: bool = False
    """Mask whole words: English words from the fast tokenizer's word ids, Japanese words from MeCab."""
    line_by_line: bool = False
    """One feature per line/document (truncated) instead of cutting the concatenated corpus into blocks."""
    freeze_backbone: bool = False
    """Train the MLM head only (the baseline that a freshly initialised head needs)."""
    top_k: int = setting(5, min=1)
    """Candidates per [MASK] in predictions."""
    nsp: bool = False
    """Next-sentence prediction as a second objective (adds nsp_accuracy to the metrics)."""

class MaskedLMTask(Task):
    """Masked-language modelling on an unlabelled corpus (domain adaptation), and fill-mask.

    Options: :class:`MlmOptions` (``task_options`` / ``--option``). The main metric (best
    evaluation, early stopping) is the held-out masked-token ``loss``, lower is better.
    """

    name = "mlm"
    description = "Masked-language-model domain adaptation (whole-word masking incl. Japanese) and fill-mask"
    languages = ("en", "ja")
    input_columns = ("text",)
    target_columns = ()
    auto_model = LazyAutoModel("AutoModelForMaskedLM")
    pipeline_tag = "fill-mask"
    main_metric: ClassVar[str] = "loss"  # mean cross-entropy over the masked tokens of the held-out text
    greater_is_better: ClassVar[bool] = False
    training_defaults: ClassVar[dict[str, Any]] = {
        "max_length": 128,
        "batch_size": 16,
        "learning_rate": 5e-5,
        "eval_split": 0.05,
        "epochs": 1,
    }

    Options: ClassVar[type] = MlmOptions
    result_kind: ClassVar[str] = "json"  # tasuki serve's page: fill-mask candidates as they are

    def __init__(self, lang: str = "en", labels: Any = None, **options: Any) -> None:
        super().__init__(lang=lang, labels=None, **options)
        if self.options.nsp and self.options.whole_word and lang == "ja":
            raise DataError("nsp with Japanese whole-word masking is not supported; drop one of the two")
        self.head_initialized: bool | None = None
        """After :meth:`build_model`: True when the backbone had no MLM head and one was initialised."""
        self._candidates: torch.Tensor | None = None
        self._extra_weights: dict[str, torch.Tensor] = {}

    # --- data ------------------------------------------------------------------------------

    def validate(self, data: Dataset, source: str, *, with_targets: bool) -> None:
        """An empty corpus is an error; blank rows are errors with their row number."""
        if len(data) == 0:
            raise DataError(f"{source}: empty corpus: no text to train on")
        super().validate(data, source, with_targets=with_targets)

    def describe(self, prediction: Any) -> str:
        """Fill-mask candidates in words: ``Paris 0.61, London 0.12``; one group per mask, ``|`` between."""
        if isinstance(prediction, list):
            if not prediction:
                return "(none)"
            if all(isinstance(p, dict) and "token_str" in p for p in prediction):
                return ", ".join(f"{p['token_str'].strip()} {p['score']:.2f}" for p in prediction)
            if all(isinstance(p, list) for p in prediction):  # several masks: one group each
                return " | ".join(self.describe(p) for p in prediction)
        return super().describe(prediction)

    def examples_from_inputs(self, inputs: Any) -> list[dict[str, Any]]:
        """Predict inputs are fill-mask queries: texts with the tokenizer's mask token."""
        rows = super().examples_from_inputs(inputs)
        return [{**row, FILL_MASK: True} for row in rows]

    def encode(self, batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_length: int) -> dict[str, list]:
        """Blocks of ``max_length`` tokens ([CLS] ... [SEP]); documents are separated by [SEP].

        Fill-mask queries and ``line_by_line`` give one truncated feature per example. With
        ``whole_word`` each feature also carries ``word_ids`` (-1 for special tokens).
        """
        texts = batch["text"]
        fill = bool(batch.get(FILL_MASK)) and any(batch[FILL_MASK])
        if max_length < 3:
            raise DataError(f"max_length {max_length} is too short for a block ([CLS] token [SEP])")
        if tokenizer.mask_token_id is None:  # else a TypeError deep in masking, after the data was read
            raise DataError(f"the backbone's tokenizer ({type(tokenizer).__name__}) has no mask token: masked-LM "
                            f"training and fill-mask hide tokens behind one; choose an encoder trained with a mask "
                            f"token (BERT, RoBERTa, XLM-R, e5, ...)")
        whole_word = self.options.whole_word
        if self.options.nsp and not fill:
            return encode_pairs(texts, tokenizer, max_length, whole_word=whole_word)
        if fill or self.options.line_by_line:
            return encode_lines(texts, tokenizer, max_length, fill=fill, whole_word=whole_word, lang=self.lang)
        return encode_blocks(texts, tokenizer, max_length, whole_word=whole_word, lang=self.lang)

    def collate(self, features: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase) -> dict[str, torch.Tensor]:
        """Pad, then mask (except fill-mask queries): ``input_ids``, ``attention_mask``, ``labels``, groups."""
        import torch

        ids, attention, extra = pad_features(features, tokenizer.pad_token_id)  # (B, T), (B, T), segments / NSP
        if any(f.get(FILL_MASK) for f in features):
            return {"input_ids": ids, "attention_mask": attention}
        groups = torch.full_like(ids, -1)  # (B, T)
        special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            if "word_ids" in feature and feature["word_ids"] is not None:
                groups[row, :n] = torch.tensor(relabel_groups(feature["word_ids"]))
            else:
                groups[row, :n] = torch.arange(n)
        groups[torch.isin(ids, special) | (attention == 0)] = -1
        masked, labels = mask_tokens(
            ids, groups, probability=self.options.mlm_probability, mask_token_id=tokenizer.mask_token_id,
            candidates=self._replacement_candidates(tokenizer),
        )
        return {"input_ids": masked, "attention_mask": attention, "labels": labels, GROUPS: groups, **extra}

    def _replacement_candidates(self, tokenizer: Any) -> torch.Tensor:
        if self._candidates is None:
            self._candidates = replacement_candidates(len(tokenizer), tokenizer.all_special_ids)
            self._mask_token_id = tokenizer.mask_token_id
        return self._candidates

    # --- model -----------------------------------------------------------------------------

    def build_model(self, backbone: Backbone) -> torch.nn.Module:
        """The backbone under a masked-LM head (its own, or a fresh one tied to the embeddings)."""
        auto_class = self._auto_class()
        model = backbone.build_model(auto_class)
        prefix = model.base_model_prefix + "."
        self.head_initialized = True  # a from-scratch encoder, or a checkpoint we cannot read, has no head
        if backbone.directory is not None:
            stored = checkpoint_keys(backbone.directory)
            head = [k for k in model.state_dict() if not k.startswith(prefix)]  # e.g. cls.predictions.*
            if stored is not None:
                self.head_initialized = not any(k in stored for k in head)
            self._extra_weights = pooler_weights(backbone.directory, prefix)
        if self.head_initialized:
            logger.warning(
                "backbone %s has no masked-LM head: initialised one (transform + decoder tied to the word "
                "embeddings); a 'before' perplexity is meaningless, compare head-only with full adaptation",
                backbone.spec,
            )
        model.tie_weights()
        output = model.get_output_embeddings()
        if output is not None and output.weight is not model.get_input_embeddings().weight:
            logger.warning("the MLM decoder is not tied to the input embeddings (config.tie_word_embeddings is off)")
        if self.options.freeze_backbone:
            # The tied decoder weight is the embedding matrix, so it stays frozen too: only the
            # transform and the output bias learn. The runner optimises trainable parameters only.
            for parameter in model.base_model.parameters():
                parameter.requires_grad = False
        return model

    def _auto_class(self) -> Any:
        from transformers import AutoModelForPreTraining

        return AutoModelForPreTraining if self.options.nsp else self.auto_model

    def load_model(self, directory: Path) -> torch.nn.Module:
        """The saved model (safetensors), with the NSP head too when trained with ``nsp``."""
        from transformers.utils import logging as hf_logging

        # The kept pooler weights (see save_model) are "unexpected" for a masked-LM model: expected here.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            return self._auto_class().from_pretrained(directory, use_safetensors=True, trust_remote_code=False)
        finally:
            hf_logging.set_verbosity(verbosity)

    def save_model(self, model: torch.nn.Module, directory: Path) -> None:
        """Save in the HF layout, keeping the backbone's pooler so downstream tasks start from it."""
        model.save_pretrained(directory, safe_serialization=True)
        weights = directory / "model.safetensors"
        if self._extra_weights and weights.is_file():
            from safetensors.torch import load_file, save_file

            tensors = load_file(str(weights))
            missing = {k: v.contiguous() for k, v in self._extra_weights.items() if k not in tensors}
            if missing:
                save_file({**tensors, **missing}, str(weights), metadata={"format": "pt"})

    def training_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy over the masked positions (the model's own loss)."""
        inputs = {k: v for k, v in batch.items() if k != GROUPS}
        return model(**inputs).loss

    def predict_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Evaluation: per-feature loss sum, masked count and correct count, on deterministic masks.

        Fill-mask (no labels): the top-k candidates per position, (B, T, k) ids and scores.
        """
        if "labels" not in batch:
            return top_candidates(model, batch, int(self.options.top_k))
        return masked_scores(model, batch, batch[GROUPS], probability=self.options.mlm_probability,
                             mask_token_id=self._mask_token_id, candidates=self._candidates)

    # --- results ---------------------------------------------------------------------------

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """``loss`` (mean over masked tokens), ``perplexity`` = exp(loss), ``masked_accuracy``."""
        masked = float(sum(int(o["masked"]) for o in outputs))
        if masked == 0:
            raise DataError("evaluation chose no masked tokens: the held-out corpus is empty")
        loss = float(sum(float(o["loss_sum"]) for o in outputs)) / masked
        correct = float(sum(int(o["correct"]) for o in outputs))
        metrics = {
            "loss": loss,
            "perplexity": math.exp(min(loss, 700.0)),
            "masked_accuracy": correct / masked,
            "masked_tokens": masked,
        }
        if outputs and "nsp_correct" in outputs[0]:
            metrics["nsp_accuracy"] = float(np.mean([int(o["nsp_correct"]) for o in outputs]))
        return metrics

    def postprocess(
        self, outputs: Outputs, features: Dataset, examples: Dataset, *, context: PredictionContext | None = None
    ) -> list[Any]:
        """Per example, like ``pipeline("fill-mask")``: a list of ``{score, token, token_str, sequence}``
        for one mask, a list of such lists for several. Needs ``context`` (its tokenizer decodes the tokens)."""
        if context is None:
            raise TypeError("the mlm task's postprocess needs context= (a tasuki.task.PredictionContext): "
                            "its tokenizer decodes the predicted tokens")
        return fill_mask_results(outputs, features, context.tokenizer)
