"""The ``embedding`` task: fine-tune a sentence encoder on pairs, triplets or scored pairs.

Columns (map others with ``columns={"text": "anchor", "pair": "positive"}`` / ``--column``):

- ``text``: the first sentence (anchor, query, sentence1); the only column prediction needs;
- ``pair``: the second sentence (positive, document, sentence2);
- ``negative`` (optional): a hard negative: triplets;
- ``score`` (optional): how similar ``text`` and ``pair`` are (any scale; 1/0 for ``contrastive``).

The loss follows the data unless ``loss`` is given: ``mnrl`` for pairs and triplets,
``cosent`` for scored pairs. Evaluation reports Spearman/Pearson on scored pairs and
recall@k / MRR@10 on pairs (each ``text`` must find its ``pair`` among all pairs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from tasuki.plugin import (
    ROLES,
    DataError,
    Outputs,
    PredictionContext,
    Task,
    embed_roles,
    pad_roles,
    role_prefix,
    setting,
    tokenize_roles,
)

if TYPE_CHECKING:  # torch loads where batches and models are built: plugin discovery imports this module
    import torch
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from tasuki.plugin import Backbone


SCORED_LOSSES = ("contrastive", "cosent", "cosine")
"""Losses that need a ``score`` column."""
IN_BATCH_NEGATIVE_LOSSES = ("mnrl",)
"""Losses whose negatives are the other texts of the batch: batches without repeated texts, not grouped by length."""


@dataclass
class EmbeddingOptions:
    """Options of the ``embedding`` task, saved with the model."""

    pooling: Literal["mean", "max", "cls"] | None = None
    """How token vectors become one sentence vector (default: the backbone's sentence-transformers config, else mean)."""
    normalize: bool | None = None
    """Unit-length vectors (default: the backbone's sentence-transformers config)."""
    loss: Literal["mnrl", "contrastive", "cosent", "cosine"] | None = None
    """Training loss (default: cosent with a 'score' column, else mnrl: in-batch negatives)."""
    scale: float = setting(20.0, min=0, min_open=True)
    """Inverse temperature of the mnrl and cosent losses."""
    margin: float = setting(0.5, min=0)
    """Margin of the contrastive loss."""


class EmbeddingTask(Task):
    """Sentence embeddings: pooled, normalized encoder outputs, trained so that similar texts are close.

    Options: :class:`EmbeddingOptions`. The main metric (best evaluation, early stopping) is
    ``spearman`` on scored pairs, else ``mrr@10`` of the retrieval evaluation.
    """

    name = "embedding"
    description = "Sentence embeddings: pooling, similarity, search; fine-tuning on pairs, triplets or scored pairs"
    input_columns: ClassVar[tuple[str, ...]] = ("text",)
    target_columns: ClassVar[tuple[str, ...]] = ("pair",)
    optional_columns: ClassVar[tuple[str, ...]] = ("negative", "score", "label")  # label: the plots' colours
    pipeline_tag = "sentence-similarity"
    # Spearman on scored pairs; MRR@10 of the retrieval evaluation on pairs and triplets.
    main_metric: ClassVar[tuple[str, ...]] = ("spearman", "mrr@10")
    training_defaults: ClassVar[dict[str, Any]] = {
        "learning_rate": 2e-5,
        "batch_size": 32,
        "epochs": 1,
        "max_length": 128,
        "warmup_ratio": 0.1,
    }

    Options: ClassVar[type] = EmbeddingOptions
    # tasuki serve's page compares two texts (a vector alone says little to a person)
    input_fields: ClassVar[tuple[str, ...]] = ("text", "pair")
    form_kind: ClassVar[str] = "pair"
    result_kind: ClassVar[str] = "score"

    def __init__(self, lang: str = "en", labels: Any = None, **options: Any) -> None:
        super().__init__(lang=lang, labels=None, **options)

    # --- data ----------------------------------------------------------------------------

    def validate(self, data: Dataset, source: str, *, with_targets: bool) -> None:
        """Every text column holds non-empty strings; ``score``, when present, holds finite numbers."""
        from tasuki.plugin import check_texts, require_columns

        require_columns(data, self.required_columns(with_targets), source, task=self.name)
        check_texts(data, [c for c in ROLES if c in data.column_names], source)
        if "score" in data.column_names:
            for row, value in enumerate(data["score"], start=1):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    try:
                        ok = math.isfinite(float(value))
                    except (TypeError, ValueError):
                        ok = False
                    if not ok:
                        raise DataError(f"{source}: row {row}, column 'score': expected a number, got {value!r}")
        loss = self.options.loss
        if with_targets and loss in SCORED_LOSSES and "score" not in data.column_names:
            raise DataError(f"{source}: loss {loss!r} needs a 'score' column; found {', '.join(data.column_names)}")
        if with_targets and loss == "contrastive":
            bad = [i for i, s in enumerate(data["score"], start=1) if float(s) not in (0.0, 1.0)]
            if bad:
                raise DataError(f"{source}: row {bad[0]}, column 'score': loss 'contrastive' needs 1 or 0 labels")
        if with_targets and loss == "cosine":  # a cosine cannot reach 4.2: the loss would pull every pair together
            bad = [(i, s) for i, s in enumerate(data["score"], start=1) if not -1.0 <= float(s) <= 1.0]
            if bad:
                raise DataError(f"{source}: row {bad[0][0]}, column 'score': {bad[0][1]!r}; loss 'cosine' fits the "
                                f"cosine similarity to the score, so scores must lie in [-1, 1]: rescale them (a 0-5 "
                                f"rating / 5), or use loss 'cosent' (any scale; the default with a score column)")

    def fit(self, train: Dataset) -> None:
        """Choose the loss from the training columns when the user did not."""
        if self.options.loss is None:
            self.options.loss = "cosent" if "score" in train.column_names else "mnrl"

    def describe(self, prediction: Any) -> str:
        """A vector (``vector[384] 0.012 -0.034 …``) or a pair's ``score 0.871``."""
        if hasattr(prediction, "shape") and hasattr(prediction, "tolist"):
            values = prediction.reshape(-1).tolist()
            head = " ".join(f"{v:.3f}" for v in values[:4])
            return f"vector[{len(values)}] {head}{' …' if len(values) > 4 else ''}"
        if isinstance(prediction, dict) and set(prediction) == {"score"}:
            return f"score {prediction['score']:.3f}"
        return super().describe(prediction)

    def examples_from_inputs(self, inputs: Any) -> list[dict[str, Any]]:
        """Texts, or ``{"text": ..., "pair": ...}`` dicts (a pair's prediction is its cosine similarity)."""
        if isinstance(inputs, (str, dict)):
            inputs = [inputs]
        return [{"text": x} if isinstance(x, str) else dict(x) for x in inputs]

    def encode(self, batch: dict[str, list], tokenizer: PreTrainedTokenizerBase, max_length: int) -> dict[str, list]:
        """Token ids per text column (``input_ids``, ``pair_input_ids``, ...), and ``score`` as a float."""
        return tokenize_roles(batch, tokenizer, max_length)

    def collate(self, features: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase) -> dict[str, torch.Tensor]:
        """Pad each text column to its longest: ``input_ids``/``attention_mask`` (B, T) per role, ``score`` (B,)."""
        return pad_roles(features, tokenizer)

    def feature_length(self, feature: dict[str, Any]) -> int:
        """The longest of the feature's texts, so that length-grouped batches pad little."""
        return max(len(feature[f"{role_prefix(r)}input_ids"]) for r in ROLES if f"{role_prefix(r)}input_ids" in feature)

    def batch_sampler(
        self, features: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, group_by_length: bool = True
    ) -> Any:
        """Training batches for in-batch negatives (``mnrl``): no text twice in a batch, not grouped by length.

        Other losses, and evaluation, get the core's length-grouped batches.
        """
        from tasuki_embedding.sampling import NoDuplicatesBatchSampler

        if shuffle and self.options.loss in IN_BATCH_NEGATIVE_LOSSES:
            names = [f"{role_prefix(r)}input_ids" for r in ROLES]
            columns = [features[name] for name in names if name in features.column_names]
            # a text is its token ids: the same text in any column (a query, a positive, a negative) clashes
            keys = [[tuple(ids) for ids in texts] for texts in zip(*columns)]
            return NoDuplicatesBatchSampler(keys, batch_size, seed=seed)
        return super().batch_sampler(features, batch_size, shuffle=shuffle, seed=seed, group_by_length=group_by_length)

    # --- model ---------------------------------------------------------------------------

    def build_model(self, backbone: Backbone) -> torch.nn.Module:
        """The backbone's bare encoder under mean/max/cls pooling (a sentence-transformers backbone keeps its own)."""
        from tasuki.plugin import SentenceEncoder, read_max_seq_length, read_normalize, read_pooling_config

        directory = getattr(backbone, "name_or_path", None)
        local = Path(directory) if directory and Path(directory).is_dir() else None
        pooling = self.options.pooling or (read_pooling_config(local) if local else None) or "mean"
        normalize = self.options.normalize
        if normalize is None:
            normalize = (read_normalize(local) if local else None) is not False
        max_seq = (read_max_seq_length(local) if local else None) or backbone.max_length
        return SentenceEncoder(backbone.encoder(), pooling=pooling, normalize=bool(normalize), max_seq_length=max_seq)

    def load_model(self, directory: Path) -> torch.nn.Module:
        """Load the sentence-transformers layout written by :meth:`save_model`."""
        from tasuki.plugin import SentenceEncoder

        return SentenceEncoder.load(directory)

    def save_model(self, model: torch.nn.Module, directory: Path) -> None:
        """Encoder weights (safetensors) plus modules.json, 1_Pooling/: ``SentenceTransformer(dir)`` loads it."""
        model.save(directory)

    def _embed(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Vectors (B, H) per text column, from one forward pass over all columns padded to one width."""
        return embed_roles(model, batch)

    def training_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The chosen loss over the batch (in-batch negatives for ``mnrl``)."""
        from tasuki.plugin import contrastive_loss, cosent_loss, cosine_similarity_loss, multiple_negatives_ranking_loss

        vectors = self._embed(model, batch)
        loss = self.options.loss or ("cosent" if "score" in batch else "mnrl")
        if loss == "mnrl":
            return multiple_negatives_ranking_loss(
                vectors["text"], vectors["pair"], vectors.get("negative"), scale=self.options.scale
            )
        if "score" not in batch:
            raise DataError(f"loss {loss!r} needs a 'score' column")
        if loss == "contrastive":
            return contrastive_loss(vectors["text"], vectors["pair"], batch["score"],
                                           margin=self.options.margin)
        if loss == "cosent":
            return cosent_loss(vectors["text"], vectors["pair"], batch["score"],
                                      scale=self.options.scale)
        return cosine_similarity_loss(vectors["text"], vectors["pair"], batch["score"])

    def predict_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``embedding`` (B, H), and ``pair_embedding`` / ``negative_embedding`` when the batch has them."""
        vectors = self._embed(model, batch)
        return {("embedding" if role == "text" else f"{role}_embedding"): v for role, v in vectors.items()}

    # --- results -------------------------------------------------------------------------

    def compute_metrics(self, outputs: Outputs, features: Dataset, examples: Dataset) -> dict[str, float]:
        """Spearman/Pearson (with ``score``), recall@1/5/10 and MRR@10 (pairs), triplet accuracy (negatives)."""
        from tasuki_embedding import metrics

        text = _stack(outputs, "embedding")
        if "pair_embedding" not in outputs[0]:
            return {}
        pair = _stack(outputs, "pair_embedding")
        if "score" in examples.column_names:
            return metrics.correlation_metrics(text, pair, examples["score"])
        corpus_texts, corpus_vectors = list(examples["pair"]), [pair]
        if "negative_embedding" in outputs[0]:
            corpus_texts += list(examples["negative"])
            corpus_vectors.append(_stack(outputs, "negative_embedding"))
        result = metrics.retrieval_metrics(text, examples["pair"], np.concatenate(corpus_vectors), corpus_texts)
        if "negative_embedding" in outputs[0]:
            result["triplet_accuracy"] = metrics.triplet_accuracy(text, pair, _stack(outputs, "negative_embedding"))
        return result

    def postprocess(
        self, outputs: Outputs, features: Dataset, examples: Dataset, *, context: PredictionContext | None = None
    ) -> list[Any]:
        """A vector (numpy, float32) per text; for ``{"text", "pair"}`` inputs, their cosine similarity."""
        if "pair_embedding" in outputs[0]:
            from tasuki_embedding.metrics import pair_cosines

            cosines = pair_cosines(_stack(outputs, "embedding"), _stack(outputs, "pair_embedding"))
            return [{"score": float(c)} for c in cosines]
        return [np.asarray(o["embedding"], dtype=np.float32) for o in outputs]

    def plot(self, outputs: Outputs, features: Dataset, examples: Dataset, directory: Path) -> list[Path]:
        """``embedding_pca.png`` (coloured by ``label``, else by column) and ``similarity_heatmap.png``."""
        from tasuki_embedding.plots import plot_evaluation

        pair = _stack(outputs, "pair_embedding") if "pair_embedding" in outputs[0] else None
        return plot_evaluation(_stack(outputs, "embedding"), pair, examples, Path(directory))


def _stack(outputs: Outputs, key: str) -> np.ndarray:
    return np.stack([o[key] for o in outputs]).astype(np.float32)  # (N, H)
